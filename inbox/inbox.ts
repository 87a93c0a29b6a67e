/*
 * The approvals inbox's script: compiled by `tsc` with the rest (inbox/tsconfig.json, DOM lib) to
 * dist/inbox/inbox.js, which the API serves at /inbox/inbox.js and the page loads as a module.
 * Self-contained on purpose: no imports, so the browser needs no bundler. The interfaces below
 * describe the parts of the API's answers the page reads (api/schemas.ts has them in full).
 */

// ---- What the API answers, as far as the page reads it

/** A stored secret by its name: the value never reaches the page. */
interface SecretRef {
  $secret: string;
}

type Executor =
  | { type: 'agent'; agentId: string }
  | { type: 'human'; assignee?: string | null }
  | { type: 'system'; action: 'noop' }
  | { type: 'system'; action: 'wait'; duration: string }
  | { type: 'system'; action: 'webhook'; url: string | SecretRef; headers?: Record<string, string | SecretRef>; body?: unknown };

interface Me {
  id: string;
  organizationId: string;
  kind: 'person' | 'agent' | 'service';
  roles: string[];
}

/** A person's word on a step: skipped, held for a later decision, or approved once held. */
interface Verdict {
  decision: 'skip' | 'hold' | 'approved';
  by: string;
  at: string;
  reason?: string;
}

interface PlanNode {
  nodeId: string;
  title: string;
  status: string;
  executor: Executor;
  dependsOn: string[];
  startedAt: string | null;
  verdict: Verdict | null;
  approvals: Array<{ by: string }>;
}

interface Stage {
  name: string;
  approvers: string[];
  required: number;
}

interface Approval {
  required: number;
  approvals: Array<{ by: string; at: string; reason: string | null; stage: number; onBehalfOf: string | null }>;
  expiresAt: string;
  onExpiry: 'reject' | 'approve';
  approvers: string[];
  narrowedTo: string[] | null;
  requesters: string[];
  stages: Stage[] | null;
  openStage: Stage & { index: number; of: number };
  stage: number;
  escalations: Array<{ afterMs: number; addApprovers?: string[]; replaceApprovers?: string[] }> | null;
  escalated: number;
  next: { kind: 'reminder' | 'escalation'; at: string } | null;
  matched: Array<{ rule: string; because: string[]; requires: string }> | null;
  /** An approval needs a sign-in no older than this (ms): a rule's freshSignIn. */
  freshSignInMs?: number | null;
}

interface Delegation {
  delegationId: string;
  from: string;
  to: string;
  until: string;
  reason?: string;
}

interface PlanEvent {
  eventType: string;
  message: string;
  emittedBy: string;
  detail: Record<string, unknown>;
  createdAt: string;
}

interface Plan {
  runId: string;
  threadId: string;
  sourceThreadId: string | null;
  leadAgentId: string;
  createdByAgentId: string | null;
  requireApproval: boolean;
  status: string;
  title: string;
  objective: string;
  nodes: PlanNode[];
  createdAt: string;
  updatedAt: string;
  revision: string | null;
  approval: Approval | null;
}

/** A plan with its events (`?include=events`). */
interface PlanWithEvents extends Plan {
  events: PlanEvent[];
}

interface RunSchedule {
  schedule: { timezone?: string } | null;
  text: string | null;
  attached: boolean;
  paused: boolean;
  nextFireTimes: string[];
}

interface Outlook {
  may: boolean;
  why: string | null;
}

interface ExternalCall {
  nodeId: string;
  title: string;
  kind: 'webhook' | 'http-agent';
  method: 'POST';
  url: string;
  internal: string | null;
}

interface Step {
  nodeId: string;
  title: string;
  instructions: string | null;
  executor: Executor;
  dependsOn: string[];
  optional: boolean;
  retry: { maxAttempts: number; initialInterval: string; backoffCoefficient: number; maximumInterval: string };
  timeout: string;
  deadline: { after: string; warnAt: string | null; cancel: boolean } | null;
  external: Omit<ExternalCall, 'nodeId' | 'title'> | null;
  approval: 'before-run' | null;
}

interface Artifact {
  content: unknown;
  createdBy: string;
}

interface Task {
  nodeId: string;
  title: string;
  instructions: string | null;
  /** `person`: a person's step to complete; `approval`: a step held for a decision before it runs. */
  waitsFor: 'person' | 'approval';
  assignee: string | null;
  you: Outlook;
  inputs: Array<{ nodeId: string; title: string; artifacts: Artifact[] }>;
}

interface Review {
  steps: Step[];
  externalCalls: ExternalCall[];
  you: Outlook;
  rejecting: Outlook;
  waiting: Task[];
}

interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

interface StepRef {
  nodeId: string;
  title: string;
}

interface Diff {
  plan: FieldChange[];
  schedule: FieldChange[];
  added: StepRef[];
  removed: StepRef[];
  changed: Array<StepRef & { changes: FieldChange[] }>;
}

interface RevisionSummary {
  number: number;
  revision: string | null;
  editedBy: string | null;
  onBehalfOf: string | null;
  editedAt: string | null;
}

interface DiffView {
  replacedRunId: string | null;
  replacedRevision: string | null;
  /** Set when the diff is an edit before approval: the revisions compared. */
  from: RevisionSummary | null;
  to: RevisionSummary | null;
  diff: Diff | null;
}

/** A step's three records (`GET …/steps/:nodeId`). */
interface StepRecords {
  proposed: Step | null;
  approved: {
    revisionNumber: number;
    step: Step;
    approvedBy: Array<{ by: string; onBehalfOf: string | null }>;
    verdict: Verdict | null;
  } | null;
  effective: Array<{ attempt: number; at: string; executor: Executor; instructions: string | null; body?: unknown }>;
}

/** An edited draft's changes, before approving with it (`POST …/draft/diff`). */
interface EditPreview {
  editedRevision: string;
  diff: Diff;
}

/** A run's plan as the draft a person edits. */
interface DraftView {
  revision: string | null;
  draft: { nodes: Array<Record<string, unknown> & { id: string; executor: Record<string, unknown> }> } & Record<string, unknown>;
}

interface ErrorAnswer {
  error?: { message?: string };
}

// ---- The page's elements, the API, and building nodes

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}
const input = (id: string): HTMLInputElement => $<HTMLInputElement>(id);
const field = (form: HTMLFormElement, name: string): HTMLInputElement | HTMLTextAreaElement =>
  form.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement;
const messageOf = (error: unknown): string => (error as Error).message;
const text = (value: unknown): Text => document.createTextNode(String(value ?? ''));
let token = sessionStorage.getItem('plans-token') ?? '';
let me: Me;
const fromHash = /[#&]token=([^&]+)/.exec(location.hash);
if (fromHash) {
  token = decodeURIComponent(fromHash[1]!);
  sessionStorage.setItem('plans-token', token);
  history.replaceState(null, '', location.pathname + '#/');
}

/** A person signed in through the organization's identity provider: their session cookie, and its CSRF token for changes. */
let csrf = '';
/** The open plan's rule that an approval needs a recent sign-in (ms), if it has one. */
let freshSignInMs: number | null = null;

/** Who the request is from: the pasted token, else the session (its CSRF token on a change). */
function credentials(method: string): Record<string, string> {
  if (token) return { authorization: `Bearer ${token}` };
  return csrf && method !== 'GET' ? { 'x-csrf-token': csrf } : {};
}

async function api<T = unknown>(method: string, path: string, body?: object): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { ...credentials(method), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const payload: unknown = response.status === 204 ? undefined : await response.json();
  if (response.status === 503) {
    // A part of the stack is restarting: say so, and look again shortly.
    $('live').textContent = 'Reconnecting…';
    setTimeout(refreshSoon, 2000);
  }
  // An approval that needs a fresher sign-in: through the identity provider again (max_age), back to this plan to approve.
  if (response.status === 401 && csrf && freshSignInMs !== null && path.endsWith('/approve')) {
    const back = encodeURIComponent(location.pathname + location.hash);
    location.assign(`/auth/login?maxAge=${Math.floor(freshSignInMs / 1000)}&returnTo=${back}`);
  }
  if (!response.ok) throw new Error((payload as ErrorAnswer | undefined)?.error?.message ?? `HTTP ${response.status}`);
  if (streaming) $('live').textContent = 'Live';
  return payload as T;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Array<string | Node>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  for (const child of children) node.append(typeof child === 'string' ? text(child) : child);
  return node;
}

function statusBadge(status: string): HTMLSpanElement {
  return el('span', { class: 'status', 'data-status': status }, status);
}

// ---- Dates and durations, in words

const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** "Mon 30 Nov 2026, 09:00 CET" in `timeZone`; `timeOnly` drops the date. */
function when(iso: string, timeZone: string = viewerZone, timeOnly = false): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZone,
      timeZoneName: 'short',
    })
      .formatToParts(new Date(iso))
      .map((part) => [part.type, part.value]),
  );
  const time = `${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
  return timeOnly ? time : `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}, ${time}`;
}

const dayOf = (iso: string, timeZone: string): string =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
const sameDay = (iso: string, zoneA: string, zoneB: string): boolean => dayOf(iso, zoneA) === dayOf(iso, zoneB);
/** Today's times without the date. */
const shortWhen = (iso: string): string => when(iso, viewerZone, dayOf(iso, viewerZone) === dayOf(new Date().toISOString(), viewerZone));

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];
/** "in 2 days", "3 hours ago". */
function relative(iso: string): string {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const format = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(Math.round(seconds), 'second');
}

const lowerFirst = (words: string): string => words.charAt(0).toLowerCase() + words.slice(1);
const shortId = (runId: string): string => runId.slice(0, 8);
const requesterOf = (plan: Plan): string => plan.createdByAgentId ?? plan.leadAgentId;
/** Who a person's step waits for (only people's steps wait). */
const assigneeOf = (executor: Executor): string | null | undefined => (executor.type === 'human' ? executor.assignee : undefined);

// ---- The inbox

function planItem(plan: Plan, extra?: string): HTMLLIElement {
  const li = el('li', { 'data-run-id': plan.runId });
  li.append(el('a', { href: `#/plan/${encodeURIComponent(plan.runId)}` }, plan.title), ' ', statusBadge(plan.status));
  const facts = [
    `run ${shortId(plan.runId)}`,
    `created ${relative(plan.createdAt)}`,
    `by ${requesterOf(plan)}`,
    `thread ${plan.threadId}${plan.sourceThreadId ? ` for ${plan.sourceThreadId}` : ''}`,
  ];
  if (plan.approval) {
    const gate = plan.approval;
    if (gate.stages && plan.status === 'pending-approval') facts.push(`waiting for ${gate.openStage.name}`);
    facts.push(`approvals ${stageApprovals(gate).length}/${gate.required}`);
    if (plan.status === 'pending-approval') facts.push(`expires ${relative(gate.expiresAt)}`);
  }
  if (extra) facts.push(extra);
  li.append(el('div', { class: 'muted' }, facts.join(' · ')));
  return li;
}

function fill(list: HTMLElement, items: HTMLElement[], empty: string): void {
  list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, empty)]));
}

/** A hint for sorting the lists only: the workflow decides who may complete a step. */
function assignedToMe(assignee: string | null | undefined): boolean {
  return !assignee || assignee === me.id || (assignee.startsWith('role:') && me.roles.includes(assignee.slice(5)));
}

async function renderInbox(): Promise<void> {
  const filters = new URLSearchParams();
  for (const id of ['f-thread', 'f-source']) if (input(id).value.trim()) filters.set(input(id).name, input(id).value.trim());
  const [pending, waiting, recent] = await Promise.all([
    api<Plan[]>('GET', `/v1/plans?status=pending-approval&limit=200&${filters}`),
    api<Plan[]>('GET', `/v1/plans?status=awaiting-human&limit=200&${filters}`),
    api<Plan[]>('GET', `/v1/plans?status=running,completed,aborted,failed&limit=10&${filters}`),
  ]);
  fill(
    $('pending'),
    pending.map((plan) => planItem(plan)),
    'Nothing waits for approval.',
  );
  const steps = waiting.flatMap((plan) => plan.nodes.filter((node) => node.status === 'awaiting-human').map((node) => ({ plan, node })));
  // A step held for a decision waits for the plan's approvers: the viewer, if they may decide (the plan's page says).
  const held = waiting.flatMap((plan) => plan.nodes.filter((node) => node.status === 'awaiting-approval').map((node) => ({ plan, node })));
  fill(
    $('tasks'),
    [
      ...steps
        .filter(({ node }) => assignedToMe(assigneeOf(node.executor)))
        .map(({ plan, node }) => planItem(plan, `step “${node.title}” waits for you`)),
      ...held.map(({ plan, node }) => planItem(plan, `step “${node.title}” waits for a decision before it runs`)),
    ],
    'No step waits for you.',
  );
  fill(
    $('stuck'),
    steps
      .filter(({ node }) => !assignedToMe(assigneeOf(node.executor)))
      .map(({ plan, node }) =>
        planItem(plan, `step “${node.title}” waits for ${assigneeOf(node.executor)} since ${relative(node.startedAt ?? plan.updatedAt)}`),
      ),
    'No step waits for anyone else.',
  );
  fill(
    $('recent'),
    recent.map((plan) => planItem(plan)),
    'Nothing yet.',
  );
  await renderDelegations();
}

/** Delegations from or to the viewer that hold now, each with a Revoke button (its delegator, delegate or an admin may). */
async function renderDelegations(): Promise<void> {
  const delegations = me.kind === 'person' ? await api<Delegation[]>('GET', '/v1/delegations?active=true') : [];
  $('delegate-form').hidden = me.kind !== 'person';
  fill(
    $('delegations'),
    delegations.map((delegation) => {
      const revoke = el('button', { type: 'button', class: 'secondary' }, 'Revoke');
      revoke.addEventListener('click', () => act(() => api('DELETE', `/v1/delegations/${encodeURIComponent(delegation.delegationId)}`)));
      const words =
        delegation.from === me.id
          ? `${delegation.to} may approve for you until ${when(delegation.until)}`
          : `You may approve for ${delegation.from} until ${when(delegation.until)}`;
      return el('li', {}, `${words}${delegation.reason ? ` (${delegation.reason})` : ''} `, revoke);
    }),
    'No delegation holds now.',
  );
}

$<HTMLFormElement>('delegate-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const reason = field(form, 'reason').value.trim();
  const body = { to: field(form, 'to').value.trim(), until: field(form, 'until').value, ...(reason ? { reason } : {}) };
  act(async () => {
    await api('POST', '/v1/delegations', body);
    form.reset();
  });
});

function depthOf(nodes: PlanNode[]): Map<string, number> {
  const byId = new Map(nodes.map((node) => [node.nodeId, node]));
  const depth = new Map<string, number>();
  const visit = (node: PlanNode): number => {
    if (!depth.has(node.nodeId))
      depth.set(node.nodeId, node.dependsOn.length ? 1 + Math.max(...node.dependsOn.map((id) => visit(byId.get(id)!))) : 0);
    return depth.get(node.nodeId)!;
  };
  nodes.forEach(visit);
  return depth;
}

/** Sets an SVG element's attributes, numbers written as they are. */
function attributes(node: SVGElement, values: Record<string, string | number>): void {
  Object.entries(values).forEach(([k, v]) => node.setAttribute(k, String(v)));
}

function graph(nodes: PlanNode[]): SVGSVGElement {
  const depth = depthOf(nodes);
  const columns: PlanNode[][] = [];
  for (const node of nodes) (columns[depth.get(node.nodeId)!] ??= []).push(node);
  const W = 170,
    H = 46,
    GX = 40,
    GY = 16;
  const position = new Map<string, { x: number; y: number }>();
  columns.forEach((column, x) => column.forEach((node, y) => position.set(node.nodeId, { x: x * (W + GX) + 10, y: y * (H + GY) + 10 })));
  const width = columns.length * (W + GX) + 20;
  const height = Math.max(...columns.map((column) => column.length)) * (H + GY) + 20;
  const colors: Record<string, string> = {
    completed: '#dff3e6',
    running: '#dbe6ff',
    'awaiting-human': '#fff1db',
    failed: '#fbe3e1',
    aborted: '#eee',
    skipped: '#eee',
  };
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('role', 'img');
  svg.setAttribute(
    'aria-label',
    `Plan graph: ${nodes.map((node) => `${node.title} (${node.status})${node.dependsOn.length ? ` after ${node.dependsOn.join(', ')}` : ''}`).join('; ')}`,
  );
  for (const node of nodes)
    for (const dep of node.dependsOn) {
      const a = position.get(dep)!,
        b = position.get(node.nodeId)!;
      const line = document.createElementNS(ns, 'line');
      attributes(line, { x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2, stroke: '#8a93a6', 'stroke-width': 1.5 });
      svg.append(line);
    }
  for (const node of nodes) {
    const { x, y } = position.get(node.nodeId)!;
    const rect = document.createElementNS(ns, 'rect');
    attributes(rect, { x, y, width: W, height: H, rx: 6, fill: colors[node.status] ?? '#fff', stroke: '#8a93a6' });
    const label = document.createElementNS(ns, 'text');
    attributes(label, { x: x + 8, y: y + 19, 'font-size': 13 });
    label.textContent = node.title.length > 22 ? `${node.title.slice(0, 21)}…` : node.title;
    const status = document.createElementNS(ns, 'text');
    attributes(status, { x: x + 8, y: y + 36, 'font-size': 11, fill: '#5b6475' });
    status.textContent = `${node.executor.type} · ${node.status}`;
    svg.append(rect, label, status);
  }
  return svg;
}

// ---- The plan page

/** What pressing Approve does, in plain words: now, then on the schedule, with the next fire in both zones. */
function approveDoes(plan: Plan, schedule: RunSchedule): string {
  const gate = plan.approval;
  const remaining = gate ? gate.required - stageApprovals(gate).length : 1;
  const later = gate && gate.openStage.index + 1 < gate.openStage.of ? gate.stages![gate.openStage.index + 1]!.name : undefined;
  if (later)
    return remaining > 1
      ? `Approving counts as one of the ${remaining} approvals ${gate!.openStage.name} still needs; then ${later} decides.`
      : `Approving completes ${gate!.openStage.name}; then ${later} decides. Nothing runs until every stage has approved.`;
  const start =
    remaining > 1
      ? `Approving counts as one of the ${remaining} approvals still needed; the last one starts this plan now`
      : 'Approving starts this plan now';
  if (!schedule.text) return `${start}, once.`;
  const zone = schedule.schedule?.timezone ?? 'UTC';
  const next = schedule.nextFireTimes[0];
  const yours = next && (sameDay(next, zone, viewerZone) ? when(next, viewerZone, true) : when(next, viewerZone));
  const nextText = next ? ` (next: ${when(next, zone)} — your time ${yours})` : '';
  if (schedule.attached) return `Recurring: ${lowerFirst(schedule.text)}${schedule.paused ? ', paused' : ''}${nextText}.`;
  return `${start} and then ${lowerFirst(schedule.text)}${nextText}.`;
}

/** Where the plan stands at the gate: "1 of 2 approvals — alice approved 10:02 “looks fine”", and its expiry. */
function approvalState(plan: Plan): string {
  const gate = plan.approval;
  if (!gate) return plan.requireApproval ? '' : 'This plan needs no approval.';
  const done = gate.approvals.map(
    (entry) =>
      `${entry.by}${entry.onBehalfOf ? ` for ${entry.onBehalfOf}` : ''} approved ${shortWhen(entry.at)}${entry.reason ? ` “${entry.reason}”` : ''}`,
  );
  const expiry =
    plan.status === 'pending-approval'
      ? ` Expires ${relative(gate.expiresAt)} (${when(gate.expiresAt)}), then ${gate.onExpiry === 'approve' ? 'approved' : 'rejected'} automatically.`
      : '';
  const rules = (gate.matched ?? []).map((rule) => ` Rule ${rule.rule}: ${rule.because.join('; ')} → ${rule.requires}.`).join('');
  if (!gate.stages && !gate.escalations) {
    const who = `Approvers: ${(gate.narrowedTo ?? gate.approvers).join(', ')}; never ${gate.requesters.join(', ')}.`;
    return `${gate.approvals.length} of ${gate.required} approvals${done.length ? ` — ${done.join('; ')}` : ''}. ${who}${expiry}${rules} Revision ${plan.revision}.`;
  }
  // Routed by the policy's rules: the open stage, who approves it now, and what comes next.
  const stage = gate.openStage;
  const named = stage.of > 1 ? `${stage.name} (stage ${stage.index + 1} of ${stage.of})` : 'approval';
  const pending = plan.status === 'pending-approval';
  const then = gate.stages ? gate.stages.slice(stage.index + 1).map((later) => later.name) : [];
  const next = pending && gate.next ? ` ${nextInWords(gate)}` : '';
  return `${pending ? 'Waiting for' : 'Last stage:'} ${named}: ${stageApprovals(gate).length} of ${stage.required} by ${stage.approvers.join(', ')}${then.length ? `; then ${then.join(', then ')}` : ''}.${done.length ? ` ${done.join('; ')}.` : ''} Never ${gate.requesters.join(', ')}.${next}${expiry}${rules} Revision ${plan.revision}.`;
}

/** The open stage's approvals. */
function stageApprovals(gate: Approval): Approval['approvals'] {
  return gate.approvals.filter((entry) => entry.stage === gate.stage);
}

/** "Escalates to role:admin in 3 h." / "Reminds role:lead in 4 h." */
function nextInWords(gate: Approval): string {
  const next = gate.next!;
  if (next.kind === 'reminder') return `Reminds ${gate.openStage.approvers.join(', ')} ${relative(next.at)}.`;
  const escalation = gate.escalations![gate.escalated]!;
  return `Escalates to ${(escalation.replaceApprovers ?? escalation.addApprovers!).join(', ')} ${relative(next.at)}.`;
}

function externalCalls(review: Review): void {
  const box = $('plan-external');
  box.hidden = review.externalCalls.length === 0;
  if (box.hidden) return box.replaceChildren();
  const count = review.externalCalls.length;
  box.replaceChildren(
    el('strong', {}, `This plan calls ${count} external endpoint${count === 1 ? '' : 's'}:`),
    el(
      'ul',
      {},
      ...review.externalCalls.map((call) =>
        el(
          'li',
          {},
          `${call.method} ${call.url} — step “${call.title}” (${call.kind === 'webhook' ? 'webhook' : 'agent served over HTTP'})`,
          ...(call.internal ? [' ', el('strong', { class: 'internal' }, `Inside the organization’s network: ${call.internal}.`)] : []),
        ),
      ),
    ),
  );
}

const shownValue = (value: unknown): string =>
  value === null || value === undefined ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value);

function changesTable(changes: FieldChange[]): HTMLTableElement {
  return el(
    'table',
    {},
    el(
      'thead',
      {},
      el('tr', {}, el('th', { scope: 'col' }, 'Field'), el('th', { scope: 'col' }, 'Before'), el('th', { scope: 'col' }, 'After')),
    ),
    el(
      'tbody',
      {},
      ...changes.map((change) =>
        el('tr', {}, el('td', {}, change.field), el('td', {}, shownValue(change.before)), el('td', {}, shownValue(change.after))),
      ),
    ),
  );
}

/** Who changed the plan into revision `to`, in words: "changed by alice (for bob) 10:02 UTC". */
function editedInWords(to: RevisionSummary): string {
  return `changed by ${to.editedBy}${to.onBehalfOf ? ` for ${to.onBehalfOf}` : ''}${to.editedAt ? ` ${when(to.editedAt)}` : ''}`;
}

function whatChanged(view: DiffView): void {
  const box = $('plan-diff');
  box.hidden = !view.diff;
  if (!view.diff) return box.replaceChildren();
  box.className = 'changes';
  box.replaceChildren(
    ...diffParts(
      view.diff,
      view.from && view.to
        ? `What changed: revision ${view.to.number} (${view.to.revision}), ${editedInWords(view.to)}, against revision ${view.from.number}. Approvals given to an earlier revision do not count for this one.`
        : `What changed since revision ${view.replacedRevision ?? 'unknown'} (run ${shortId(view.replacedRunId!)})`,
    ),
  );
}

/** A diff as the page shows it: a heading, then the plan's, the schedule's and each step's changes. */
function diffParts(diff: Diff, heading: string): HTMLElement[] {
  const parts: HTMLElement[] = [el('h3', {}, heading)];
  if (diff.plan.length) parts.push(el('p', {}, 'The plan:'), changesTable(diff.plan));
  if (diff.schedule.length) parts.push(el('p', {}, 'The schedule:'), changesTable(diff.schedule));
  if (diff.added.length)
    parts.push(el('p', {}, `Steps added: ${diff.added.map((step) => `“${step.title}” (${step.nodeId})`).join(', ')}.`));
  if (diff.removed.length)
    parts.push(el('p', {}, `Steps removed: ${diff.removed.map((step) => `“${step.title}” (${step.nodeId})`).join(', ')}.`));
  for (const step of diff.changed) parts.push(el('p', {}, `Step “${step.title}” (${step.nodeId}) changed:`), changesTable(step.changes));
  if (parts.length === 1) parts.push(el('p', {}, 'Nothing that runs changed.'));
  return parts;
}

/** A webhook's url or header value: as written, or a stored secret by its name (the value never reaches the page). */
function valueText(value: string | SecretRef): string {
  return typeof value === 'string' ? value : `secret ${value.$secret}`;
}

function executorText(executor: Executor): string {
  if (executor.type === 'agent') return `agent ${executor.agentId}`;
  if (executor.type === 'human') return `a person: ${executor.assignee ?? 'anyone of the organization'}`;
  if (executor.action === 'wait') return `wait ${executor.duration}`;
  if (executor.action === 'webhook') return `webhook POST ${valueText(executor.url)}`;
  return 'nothing (a marker step)';
}

function stepItem(runId: string, step: Step, node: PlanNode | undefined, titles: Map<string, string>): HTMLLIElement {
  const webhook = step.executor.type === 'system' && step.executor.action === 'webhook' ? step.executor : undefined;
  const facts: Array<[string, string]> = [
    ['Does', executorText(step.executor)],
    ...(webhook?.headers
      ? [
          [
            'Headers',
            Object.entries(webhook.headers)
              .map(([name, value]) => `${name}: ${valueText(value)}`)
              .join('; '),
          ] as [string, string],
        ]
      : []),
    ...(webhook && webhook.body !== undefined ? [['Body', JSON.stringify(webhook.body)] as [string, string]] : []),
    ['After', step.dependsOn.length ? step.dependsOn.map((id) => `“${titles.get(id) ?? id}”`).join(', ') : 'nothing: starts first'],
    // A person's step has no attempts to retry or time out.
    ...(step.executor.type === 'human'
      ? []
      : ([
          [
            'Retries',
            `up to ${step.retry.maxAttempts} attempts, waiting ${step.retry.initialInterval} then ×${step.retry.backoffCoefficient} (at most ${step.retry.maximumInterval})`,
          ],
          ['Timeout', `${step.timeout} per attempt`],
        ] as Array<[string, string]>)),
    [
      'Deadline',
      step.deadline
        ? `${step.deadline.after} after it starts${step.deadline.warnAt ? `, warning at ${step.deadline.warnAt}` : ''}${step.deadline.cancel ? '; missing it fails the attempt' : ''}`
        : 'none',
    ],
    ['Optional', step.optional ? 'yes: the plan goes on if it fails' : 'no'],
    ...(step.approval === 'before-run' ? [['Before it runs', 'waits for a decision, with its inputs shown'] as [string, string]] : []),
    ...(node?.verdict
      ? [
          [
            'Decided',
            `${{ skip: 'skipped', hold: 'held for a later decision', approved: 'approved' }[node.verdict.decision]} by ${node.verdict.by} ${when(node.verdict.at)}${node.verdict.reason ? ` “${node.verdict.reason}”` : ''}`,
          ] as [string, string],
        ]
      : []),
  ];
  const li = el('li', { 'data-node-id': step.nodeId });
  li.append(
    el(
      'div',
      { class: 'step-head' },
      `${step.title} `,
      statusBadge(node?.status ?? 'pending'),
      ...(step.external ? [' ', el('span', { class: 'badge' }, 'calls outside')] : []),
    ),
  );
  if (step.instructions) li.append(el('p', { class: 'instructions' }, step.instructions));
  li.append(el('dl', { class: 'facts' }, ...facts.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)])));
  li.append(recordsView(runId, step));
  return li;
}

/** How one version of a step reads in its records: what it does, and its instructions. */
function recordText(view: Step | null): string {
  return view ? `${executorText(view.executor)}${view.instructions ? ` — “${view.instructions}”` : ''}` : '(not in this version)';
}

/**
 * The step's three records side by side, loaded when opened: as its requester proposed it, as
 * approved (and by whom), as each attempt was called (credentials masked).
 */
function recordsView(runId: string, step: Step): HTMLDetailsElement {
  const box = el('details', { class: 'records' }, el('summary', {}, 'Proposed, approved, effective'));
  box.addEventListener('toggle', () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = 'yes';
    api<StepRecords>('GET', `/v1/plans/${encodeURIComponent(runId)}/steps/${encodeURIComponent(step.nodeId)}`)
      .then((records) => {
        const approved = records.approved;
        const by = approved?.approvedBy.map((entry) => `${entry.by}${entry.onBehalfOf ? ` for ${entry.onBehalfOf}` : ''}`).join(', ');
        const rows: Array<[string, string]> = [
          ['Proposed', recordText(records.proposed)],
          [
            'Approved',
            approved
              ? `${recordText(approved.step)} (revision ${approved.revisionNumber}${by ? `, approved by ${by}` : ''}${approved.verdict ? `; ${approved.verdict.decision} by ${approved.verdict.by}` : ''})`
              : 'not approved yet',
          ],
          ...(records.effective.length
            ? records.effective.map((call): [string, string] => [
                `Effective, attempt ${call.attempt}`,
                `${executorText(call.executor)}${call.instructions ? ` — “${call.instructions}”` : ''} at ${when(call.at)}${call.body !== undefined ? `; body ${JSON.stringify(call.body)}` : ''}`,
              ])
            : [['Effective', 'not called yet'] as [string, string]]),
        ];
        box.append(el('dl', { class: 'facts' }, ...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)])));
      })
      .catch((error: unknown) => box.append(el('p', {}, messageOf(error))));
  });
  return box;
}

const COLLAPSE_OVER = 1500;
function artifactView(title: string, artifact: Artifact): HTMLElement {
  // JSON.stringify answers undefined for content it cannot write (none at all).
  const textual: string | undefined = typeof artifact.content === 'string' ? artifact.content : JSON.stringify(artifact.content, null, 2);
  const pre = el('pre', {}, textual ?? '(empty)');
  if ((textual ?? '').length <= COLLAPSE_OVER)
    return el('div', {}, el('p', { class: 'muted' }, `Output of “${title}” by ${artifact.createdBy}:`), pre);
  return el(
    'details',
    {},
    el('summary', {}, `Output of “${title}” by ${artifact.createdBy} (${Math.round(textual!.length / 1024)} KB): show`),
    pre,
  );
}

/** What a waiting step reviews: the outputs of the steps it depends on (or that they handed nothing over). */
function reviewedInputs(task: Task): HTMLElement[] {
  return task.inputs.flatMap((input) =>
    input.artifacts.length
      ? input.artifacts.map((artifact) => artifactView(input.title, artifact))
      : [el('p', { class: 'muted' }, `“${input.title}” handed nothing over.`)],
  );
}

/** A step held for a decision: what it reviews, then Approve step / Skip step (or why this person may not). */
function stepDecisionForm(plan: Plan, task: Task): HTMLFormElement {
  const form = el('form', { class: 'task', 'data-run-id': plan.runId, 'data-node-id': task.nodeId, 'aria-label': `Decide ${task.title}` });
  const node = plan.nodes.find((candidate) => candidate.nodeId === task.nodeId);
  form.append(el('h3', {}, `Decide “${task.title}” before it runs`));
  form.append(
    el(
      'p',
      { class: 'muted' },
      node?.verdict?.decision === 'hold'
        ? `Held by ${node.verdict.by}${node.verdict.reason ? `: “${node.verdict.reason}”` : ''}.`
        : 'Its draft asks for a decision before it runs.',
      node?.approvals.length ? ` Approved so far by ${node.approvals.map((entry) => entry.by).join(', ')}.` : '',
    ),
  );
  if (task.instructions) form.append(el('p', { class: 'instructions' }, task.instructions));
  form.append(...reviewedInputs(task));
  if (!task.you.may) {
    form.append(el('p', {}, task.you.why ?? ''));
    return form;
  }
  if (task.you.why) form.append(el('p', {}, task.you.why));
  const id = `step-reason-${task.nodeId}`;
  form.append(
    el('label', { for: id, class: 'wide' }, 'Reason (optional; needed to skip)', el('textarea', { id, name: 'reason' })),
    el('button', { type: 'submit', value: 'approve' }, `Approve ${task.title}`),
    el('button', { type: 'submit', value: 'skip', class: 'secondary' }, `Skip ${task.title}`),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const word = (event.submitter as HTMLButtonElement | null)?.value === 'skip' ? 'skip' : 'approve';
    const reason = field(form, 'reason').value.trim();
    act(() =>
      api('POST', `/v1/plans/${encodeURIComponent(plan.runId)}/approve`, {
        steps: { [task.nodeId]: word },
        ...(reason ? { reason } : {}),
        ...(plan.revision ? { expectedRevision: plan.revision } : {}),
      }),
    );
  });
  return form;
}

function taskForm(plan: Plan, task: Task): HTMLFormElement {
  if (task.waitsFor === 'approval') return stepDecisionForm(plan, task);
  const form = el('form', {
    class: 'task',
    'data-run-id': plan.runId,
    'data-node-id': task.nodeId,
    'aria-label': `Complete ${task.title}`,
  });
  form.append(el('h3', {}, `Complete “${task.title}”`));
  form.append(el('p', { class: 'muted' }, `Assigned to ${task.assignee ?? 'anyone of the organization'}.`));
  if (task.instructions) form.append(el('p', { class: 'instructions' }, task.instructions));
  form.append(...reviewedInputs(task));
  if (!task.you.may) {
    form.append(el('p', {}, task.you.why ?? ''));
    return form;
  }
  const id = `output-${task.nodeId}`;
  form.append(
    el('label', { for: id, class: 'wide' }, 'Output (JSON or text)', el('textarea', { id, name: 'output' })),
    el('button', { type: 'submit' }, `Complete ${task.title}`),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const raw = field(form, 'output').value.trim();
    let output: unknown;
    try {
      output = raw ? JSON.parse(raw) : undefined;
    } catch {
      output = raw;
    }
    act(() =>
      api(
        'POST',
        `/v1/plans/${encodeURIComponent(plan.runId)}/nodes/${encodeURIComponent(task.nodeId)}/complete`,
        output === undefined ? {} : { output },
      ),
    );
  });
  return form;
}

function timelineItem(event: PlanEvent): HTMLLIElement {
  const reason =
    event.eventType !== 'checkpoint-saved' && typeof event.detail.reason === 'string' && !event.message.includes(event.detail.reason)
      ? event.detail.reason
      : undefined;
  return el(
    'li',
    { 'data-event': event.eventType },
    el('time', { datetime: event.createdAt }, when(event.createdAt)),
    ` ${event.message} `,
    el('span', { class: 'muted' }, `— ${event.emittedBy}`),
    ...(reason ? [' ', el('span', { class: 'reason' }, `“${reason}”`)] : []),
  );
}

/**
 * Step by step, with the plan's approval: a choice per step (approve with the plan, hold it for a
 * later decision, or skip it — only an optional one). Kept across live refreshes of the same revision.
 */
function stepVerdicts(plan: Plan, review: Review, show: boolean): void {
  const box = $<HTMLFieldSetElement>('step-verdicts');
  box.hidden = !show;
  if (!show || box.dataset.revision === `${plan.runId}@${plan.revision}`) return;
  box.dataset.revision = `${plan.runId}@${plan.revision}`;
  box.replaceChildren(
    el('legend', {}, 'Step by step (optional): approve a step with the plan, hold it for a later decision, or skip it'),
    ...review.steps.map((step) => {
      const id = `verdict-${step.nodeId}`;
      const select = el(
        'select',
        { id, name: 'verdict', 'data-node-id': step.nodeId },
        el('option', { value: 'approve' }, 'Approve with the plan'),
        el('option', { value: 'hold' }, 'Hold for a later decision'),
        ...(step.optional ? [el('option', { value: 'skip' }, 'Skip (optional step)')] : []),
      );
      return el('label', { for: id }, `${step.title} `, select);
    }),
  );
}

/** The `steps` of the plan's approval, from the choices made (none when every step is approved with it). */
function chosenVerdicts(): Record<string, string> | undefined {
  const chosen = [...$('step-verdicts').querySelectorAll<HTMLSelectElement>('select')].filter((select) => select.value !== 'approve');
  return chosen.length ? Object.fromEntries(chosen.map((select) => [select.dataset.nodeId!, select.value])) : undefined;
}

/** The fields a person edits in place, per step: instructions, a person's step's assignee, a webhook's URL. */
function editFields(draft: DraftView['draft']): HTMLElement[] {
  return draft.nodes.map((node) => {
    const executor = node.executor;
    const fields: HTMLElement[] = [el('legend', {}, `${String(node.title)} (${node.id})`)];
    const add = (name: string, label: string, value: string, multiline = false) => {
      const id = `edit-${node.id}-${name}`;
      const control = multiline
        ? el('textarea', { id, name, 'data-node-id': node.id }, value)
        : el('input', { id, name, value, 'data-node-id': node.id });
      fields.push(el('label', { for: id, class: 'wide' }, label, control));
    };
    if (executor.type === 'human') add('assignee', 'Assigned to', String(executor.assignee ?? ''));
    else add('instructions', 'Instructions', String(node.instructions ?? ''), true);
    if (executor.type === 'system' && executor.action === 'webhook' && typeof executor.url === 'string')
      add('url', 'Webhook URL', executor.url);
    return el('fieldset', {}, ...fields);
  });
}

/** The edited draft: the whole draft (as edited in its JSON), with the fields edited in place put in. */
function editedDraft(form: HTMLFormElement): unknown {
  const draft = JSON.parse(field(form, 'draft').value) as DraftView['draft'];
  for (const control of form.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('[data-node-id]')) {
    const node = draft.nodes.find((candidate) => candidate.id === control.dataset.nodeId);
    if (!node) continue;
    const value = control.value.trim();
    if (control.name === 'instructions') {
      if (value) node.instructions = value;
      else delete node.instructions;
    } else if (control.name === 'assignee') {
      if (value) node.executor.assignee = value;
      else delete node.executor.assignee;
    } else if (control.name === 'url') node.executor.url = value;
  }
  return draft;
}

/** Edit, then approve: fields in place and the whole draft, "Show changes" (nothing stored), "Approve with these changes". */
function editForm(plan: Plan, view: DraftView): void {
  const form = $<HTMLFormElement>('edit-form');
  if (form.dataset.revision === `${plan.runId}@${plan.revision}`) return;
  form.dataset.revision = `${plan.runId}@${plan.revision}`;
  $('edit-preview').hidden = true;
  form.replaceChildren(
    el(
      'p',
      { class: 'muted' },
      'Your edit becomes the plan’s next revision and is what runs; approvals given to this revision will not count for it.',
    ),
    ...editFields(view.draft),
    el(
      'details',
      {},
      el('summary', {}, 'The whole plan as a draft (JSON): steps, dependencies, schedule'),
      el(
        'label',
        { for: 'edit-draft', class: 'wide' },
        'Draft',
        el('textarea', { id: 'edit-draft', name: 'draft', rows: '16' }, JSON.stringify(view.draft, null, 2)),
      ),
    ),
    el('button', { type: 'submit', value: 'preview', class: 'secondary' }, 'Show changes'),
    el('button', { type: 'submit', value: 'approve' }, 'Approve with these changes'),
  );
  form.onsubmit = (event) => {
    event.preventDefault();
    $('error').textContent = '';
    let draft: unknown;
    try {
      draft = editedDraft(form);
    } catch (error) {
      $('error').textContent = `The draft is not valid JSON: ${messageOf(error)}`;
      return;
    }
    const path = `/v1/plans/${encodeURIComponent(plan.runId)}`;
    if ((event.submitter as HTMLButtonElement | null)?.value === 'preview') {
      api<EditPreview>('POST', `${path}/draft/diff`, { draft })
        .then((preview) => {
          const box = $('edit-preview');
          box.hidden = false;
          box.className = 'changes';
          box.replaceChildren(...diffParts(preview.diff, `Your changes: revision ${plan.revision} → ${preview.editedRevision}`));
        })
        .catch((error: unknown) => ($('error').textContent = messageOf(error)));
      return;
    }
    const reason = field($<HTMLFormElement>('decision-form'), 'reason').value.trim();
    act(() =>
      api('POST', `${path}/approve`, {
        draft,
        ...(reason ? { reason } : {}),
        ...(plan.revision ? { expectedRevision: plan.revision } : {}),
      }),
    );
  };
}

async function renderPlan(runId: string): Promise<void> {
  const path = `/v1/plans/${encodeURIComponent(runId)}`;
  // Everything is fetched before anything is shown: the page never shows half a plan.
  const [plan, schedule, review, diff] = await Promise.all([
    api<PlanWithEvents>('GET', `${path}?include=events`),
    api<RunSchedule>('GET', `${path}/schedule`),
    api<Review>('GET', `${path}/review`),
    api<DiffView>('GET', `${path}/diff`),
  ]);
  freshSignInMs = plan.approval?.freshSignInMs ?? null;
  $('plan-title').textContent = plan.title;
  $('plan-status').replaceWith(Object.assign(statusBadge(plan.status), { id: 'plan-status' }));
  $('plan-asked').textContent =
    `Asked by ${requesterOf(plan)} in thread ${plan.threadId}${plan.sourceThreadId ? `, on behalf of thread ${plan.sourceThreadId}` : ''}, ${relative(plan.createdAt)} · run ${plan.runId}`;
  $('plan-objective').textContent = plan.objective;
  externalCalls(review);
  whatChanged(diff);
  const pending = plan.status === 'pending-approval';
  $('plan-does').textContent = pending || schedule.attached ? approveDoes(plan, schedule) : '';
  $('plan-approval').textContent = approvalState(plan);
  const mayDecide = review.you.may || review.rejecting.may;
  $('plan-you').textContent = !pending
    ? ''
    : review.you.may
      ? `You can approve or reject this plan.${review.you.why ? ` ${review.you.why}` : ''}`
      : review.rejecting.may
        ? `${review.you.why} You can still reject it, or request changes: every approver of the organization keeps the veto.`
        : review.you.why;
  $('decide').hidden = !pending || !mayDecide;
  $('decision-form').querySelector<HTMLButtonElement>('[name=approve]')!.hidden = !review.you.may;
  stepVerdicts(plan, review, pending && review.you.may);
  $('edit-plan').hidden = !(pending && review.you.may);
  if (pending && review.you.may) editForm(plan, await api<DraftView>('GET', `${path}/draft`));
  const nodes = new Map(plan.nodes.map((node) => [node.nodeId, node]));
  const titles = new Map(review.steps.map((step) => [step.nodeId, step.title]));
  $('plan-graph').replaceChildren(graph(plan.nodes));
  $('plan-steps').replaceChildren(...review.steps.map((step) => stepItem(plan.runId, step, nodes.get(step.nodeId), titles)));
  // A live refresh keeps the forms still waiting, with whatever the person has typed in them.
  const kept = new Map([...$('node-forms').querySelectorAll('form')].map((form) => [form.dataset.nodeId, form]));
  $('node-forms').replaceChildren(
    ...review.waiting.map((task) => {
      const form = kept.get(task.nodeId);
      return form && form.dataset.runId === plan.runId && form.elements.namedItem('output') ? form : taskForm(plan, task);
    }),
  );
  $('plan-timeline').replaceChildren(...plan.events.filter((event) => event.eventType !== 'checkpoint-saved').map(timelineItem));
  $('decision-form').dataset.runId = plan.runId;
  // A decision is bound to the revision shown here: if the plan changes meanwhile, it is refused.
  $('decision-form').dataset.revision = plan.revision ?? '';
}

async function act(call: () => Promise<unknown>): Promise<void> {
  $('error').textContent = '';
  try {
    await call();
    await render();
  } catch (error) {
    $('error').textContent = messageOf(error);
  }
}

$<HTMLFormElement>('decision-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const choice = (event.submitter as HTMLButtonElement | null)?.value ?? 'approve';
  const reason = field(form, 'reason').value.trim();
  // No thread named: the API decides from the run's deciding thread, as a person does.
  const revision = form.dataset.revision;
  const steps = choice === 'approve' ? chosenVerdicts() : undefined;
  const body = {
    ...(reason ? { reason } : {}),
    ...(choice === 'approve' ? {} : { resolution: choice }),
    ...(steps ? { steps } : {}),
    ...(revision ? { expectedRevision: revision } : {}),
  };
  act(() => api('POST', `/v1/plans/${encodeURIComponent(form.dataset.runId!)}/${choice === 'approve' ? 'approve' : 'reject'}`, body));
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = input('token').value.trim();
  sessionStorage.setItem('plans-token', token);
  start();
});

$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  render();
});

async function render(): Promise<void> {
  const match = /^#\/plan\/(.+)$/.exec(location.hash);
  $('inbox').hidden = Boolean(match);
  $('plan').hidden = !match;
  if (match) await renderPlan(decodeURIComponent(match[1]!));
  else await renderInbox();
}

let scheduled: number | undefined;
/** Whether the live feed is connected (the header says "Live" then). */
let streaming = false;
function refreshSoon(): void {
  clearTimeout(scheduled);
  scheduled = setTimeout(() => render().catch((error: unknown) => ($('error').textContent = messageOf(error))), 150);
}

async function follow(): Promise<void> {
  let lastId: string | undefined;
  for (;;) {
    try {
      const response = await fetch('/v1/events', {
        headers: { ...credentials('GET'), ...(lastId ? { 'last-event-id': lastId } : {}) },
      });
      if (!response.ok) throw new Error(`live updates: HTTP ${response.status}`);
      streaming = true;
      $('live').textContent = 'Live';
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (.+)$/m.exec(frame);
          if (id) {
            lastId = id[1];
            refreshSoon();
          }
        }
      }
    } catch {
      $('live').textContent = 'Reconnecting…';
    }
    streaming = false;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * Without a pasted token: the session of a person signed in through the organization's identity
 * provider, if the API has one (`/auth/session`); if they are not signed in, a link that signs
 * them in and brings them back to this very page.
 */
async function signedInSession(): Promise<boolean> {
  const response = await fetch('/auth/session');
  if (!response.ok) return false; // no sign-in configured: tokens only
  const session = (await response.json()) as { signedIn: boolean; csrfToken?: string };
  if (session.signedIn) {
    // Signed in as themselves: a token that came in an address (a link someone else made) is not used.
    token = '';
    sessionStorage.removeItem('plans-token');
    csrf = session.csrfToken ?? '';
    $('signout').hidden = false;
    return true;
  }
  $<HTMLAnchorElement>('sso-link').href = `/auth/login?returnTo=${encodeURIComponent(location.pathname + location.hash)}`;
  $('sso').hidden = false;
  return false;
}

async function start(): Promise<void> {
  $('error').textContent = '';
  if (!(await signedInSession()) && !token) {
    $('signin').hidden = false;
    return;
  }
  try {
    me = await api<Me>('GET', '/v1/me');
  } catch (error) {
    $('signin').hidden = false;
    $('error').textContent = messageOf(error);
    return;
  }
  $('signin').hidden = true;
  $('who').textContent = `${me.id} · ${me.organizationId}`;
  window.addEventListener('hashchange', () => render().catch((error: unknown) => ($('error').textContent = messageOf(error))));
  await render();
  follow();
}

start();
