import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's PostgreSQL binaries, newest first. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((version) => join(root, version, 'bin')).find((dir) => existsSync(join(dir, 'pg_ctl')));
  if (!found) throw new Error('PostgreSQL is not installed: apt-get install postgresql (Debian), as .ci/run does.');
  return found;
}

export interface Postgres {
  port: number;
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL cluster on a loopback port, in `dir`, with a superuser `temporal`
 * (password `temporal`). PostgreSQL refuses to run as root, so as root it runs as `postgres`
 * (then every directory above `dir` must let that user through).
 */
export async function startPostgres(dir: string, port: number): Promise<Postgres> {
  const bin = postgresBin();
  const asRoot = userInfo().uid === 0;
  const as = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args);
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  if (asRoot)
    chownSync(
      dir,
      Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
      Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
    );
  if (!existsSync(join(data, 'PG_VERSION'))) await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  await as('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'postgres.log'),
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
    '-w',
    'start',
  ]);
  await run(join(bin, 'psql'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    '-c',
    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') THEN CREATE ROLE temporal LOGIN SUPERUSER PASSWORD 'temporal'; END IF; END $$;",
  ]);
  return {
    port,
    stop: async () => {
      await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => {});
    },
  };
}
