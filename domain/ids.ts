/** Organization, thread, agent, actor and run ids: printable, no spaces, at most 128 characters. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;
export const ID_RULE = 'must be 1-128 letters, digits or "_.:@-", starting with a letter or digit';

/** A secret's name: a slug, safe in a URL path, a record id and a message. */
export const SECRET_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
