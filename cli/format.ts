import type { ChainBreak, VerifyReport } from '../audit/chain.js';
import type { Credential } from '../domain/decisions.js';
import type { Delegation } from '../domain/delegations.js';
import type { DoctorReport } from '../client/doctor.js';
import type { StepRecords } from '../domain/step-records.js';
import type { StepView } from '../domain/plan-review.js';
import type { PlanDiffView } from '../client/reviews-client.js';
import type { FieldChange } from '../domain/plan-diff.js';
import type { PlanEventRecord } from '../domain/run-state.js';
import type { PolicyRecord } from '../domain/policy.js';
import type { TokenView } from '../domain/principals.js';
import type { PlanSnapshot } from '../domain/snapshot.js';

/** A run for people: one header line, its nodes, and whatever was included. */
export function formatPlan(plan: PlanSnapshot): string {
  const lines = [
    `${plan.runId}  ${plan.status}  "${plan.title}"`,
    `  org ${plan.organizationId}  thread ${plan.threadId}${plan.sourceThreadId ? `  for thread ${plan.sourceThreadId}` : ''}  lead ${plan.leadAgentId}`,
  ];
  if (plan.revision) lines.push(`  revision ${plan.revision}`);
  if (plan.approval) {
    const { approval } = plan;
    const who = approval.approvals.map((entry) => entry.by).join(', ');
    const expiry =
      plan.status === 'pending-approval'
        ? `; expires ${approval.expiresAt}, then ${approval.onExpiry === 'approve' ? 'approved' : 'rejected'}`
        : '';
    if (!approval.stages && !approval.escalations)
      lines.push(
        `  approvals ${approval.approvals.length} of ${approval.required}${who ? ` (${who})` : ''} by ${(approval.narrowedTo ?? approval.approvers).join(', ')}${expiry}`,
      );
    else {
      // Routed by the policy's rules: the stages in order, the open one, what comes next.
      const stages = approval.stages ?? [approval.openStage];
      stages.forEach((stage, index) => {
        const done = approval.approvals.filter((entry) => entry.stage === index).map((entry) => entry.by);
        const pending = plan.status === 'pending-approval';
        const state =
          done.length >= stage.required && (index < approval.stage || !pending)
            ? 'approved'
            : index === approval.stage && pending
              ? 'open'
              : pending
                ? 'waiting'
                : 'not reached';
        const approvers = index === approval.stage ? approval.openStage.approvers : stage.approvers;
        lines.push(
          `  stage ${index + 1} ${stage.name} [${state}]: ${done.length} of ${stage.required} by ${approvers.join(', ')}${done.length ? ` (${done.join(', ')})` : ''}`,
        );
      });
      if (plan.status === 'pending-approval')
        lines.push(
          `  ${approval.next ? `next ${approval.next.kind} at ${approval.next.at}` : 'no reminder or escalation to come'}${expiry}`,
        );
    }
    for (const rule of approval.matched ?? []) lines.push(`  rule ${rule.rule}: ${rule.because.join('; ')} → ${rule.requires}`);
  }
  if (plan.readyNodeIds.length > 0) lines.push(`  ready: ${plan.readyNodeIds.join(', ')}`);
  if (plan.scheduleId) lines.push(`  schedule ${plan.scheduleId}, next at ${plan.scheduledAt ?? 'unknown'}`);
  if (plan.replacedRunId) lines.push(`  replaces ${plan.replacedRunId}`);
  if (plan.replacedByRunId) lines.push(`  replaced by ${plan.replacedByRunId}`);
  for (const node of plan.nodes) {
    const deps = node.dependsOn.length > 0 ? ` after ${node.dependsOn.join(', ')}` : '';
    const verdict = node.verdict
      ? `  — ${{ skip: 'skipped', hold: 'held', approved: 'approved' }[node.verdict.decision]} by ${node.verdict.by}${node.verdict.reason ? ` “${node.verdict.reason}”` : ''}`
      : node.approval === 'before-run' && node.status === 'awaiting-approval'
        ? '  — waits for a decision before it runs'
        : '';
    const counted =
      node.status === 'awaiting-approval' && node.approvals.length > 0
        ? ` (approved by ${node.approvals.map((entry) => entry.by).join(', ')})`
        : '';
    lines.push(`  - ${node.nodeId} [${node.status}] ${node.title} (${node.executor.type})${deps}${verdict}${counted}`);
  }
  for (const event of plan.events ?? []) {
    const reason = reasonOf(event);
    const via = credentialInWords(event.detail.credential as Credential | undefined);
    lines.push(
      `  #${event.sequence} ${event.createdAt} ${event.eventType} by ${event.emittedBy}${typeof event.detail.onBehalfOf === 'string' ? ` for ${event.detail.onBehalfOf}` : ''}${via ? ` (${via})` : ''}: ${event.message}${reason ? ` — “${reason}”` : ''}`,
    );
  }
  for (const checkpoint of plan.checkpoints ?? []) {
    lines.push(`  checkpoint ${checkpoint.sequence} ${checkpoint.runStatus} (${checkpoint.snapshot.reason})`);
  }
  return lines.join('\n');
}

/** What made a decision, in words: "token tok_1a2b…", "link delivered to subscription sub-9", "temporal". */
export function credentialInWords(credential: Credential | undefined): string | undefined {
  if (!credential) return undefined;
  switch (credential.kind) {
    case 'token':
      return `token ${credential.id}`;
    case 'sign-in':
      return `signed in (${credential.id}, authenticated ${credential.authTime})`;
    case 'standing':
      return `standing approval ${credential.id}`;
    case 'link':
      return credential.provedBy.kind === 'token'
        ? `link, signed in with token ${credential.provedBy.id}`
        : `link delivered to subscription ${credential.provedBy.id}`;
    case 'temporal':
      return 'through temporal';
    case 'expiry':
      return 'on expiry';
  }
}

/** The reason a person (or the gate) gave with an event; a checkpoint's `reason` is only its kind. */
function reasonOf(event: PlanEventRecord): string | undefined {
  const { reason } = event.detail;
  return event.eventType !== 'checkpoint-saved' && typeof reason === 'string' && !event.message.includes(reason) ? reason : undefined;
}

/** What a replacement changed, for people: plan fields, schedule, steps added, removed and changed field by field. */
export function formatDiff(view: PlanDiffView): string {
  if (!view.diff) return `${view.runId} was never edited and replaced no run: nothing to compare.`;
  const { diff } = view;
  const value = (item: unknown) => (item === null ? '(none)' : JSON.stringify(item));
  const field = (change: FieldChange) => `${change.field}: ${value(change.before)} → ${value(change.after)}`;
  const revision = (summary: NonNullable<PlanDiffView['from']>) =>
    `revision ${summary.number} (${summary.revision})${summary.editedBy ? `, changed by ${summary.editedBy}${summary.onBehalfOf ? ` for ${summary.onBehalfOf}` : ''} at ${summary.editedAt}` : ', as drafted'}`;
  const lines = [
    view.from && view.to
      ? `${view.runId}: ${revision(view.to)}\n  against ${revision(view.from)}`
      : `${view.runId} (revision ${view.revision}) against ${view.replacedRunId} (revision ${view.replacedRevision})`,
  ];
  for (const change of diff.plan) lines.push(`  plan ${field(change)}`);
  for (const change of diff.schedule) lines.push(`  schedule ${field(change)}`);
  for (const step of diff.added) lines.push(`  + ${step.nodeId} "${step.title}"`);
  for (const step of diff.removed) lines.push(`  - ${step.nodeId} "${step.title}"`);
  for (const step of diff.changed) {
    lines.push(`  ~ ${step.nodeId} "${step.title}"`);
    for (const change of step.changes) lines.push(`      ${field(change)}`);
  }
  if (lines.length === 1) lines.push('  nothing changed');
  if (view.revisions.length > 1)
    lines.push(
      `revisions: ${view.revisions.map((summary) => `${summary.number} ${summary.revision}${summary.editedBy ? ` (${summary.editedBy})` : ''}`).join(', ')}`,
    );
  return lines.join('\n');
}

/** A step's three records for people: as proposed, as approved (by whom), as each attempt was called. */
export function formatStepRecords(records: StepRecords): string {
  const step = (view: StepView) =>
    `${view.title} — ${JSON.stringify(view.executor)}${view.instructions ? `\n      instructions: ${view.instructions}` : ''}${view.dependsOn.length ? `\n      after ${view.dependsOn.join(', ')}` : ''}`;
  const lines = [`${records.runId} step ${records.nodeId}`];
  lines.push(`  proposed: ${records.proposed ? step(records.proposed) : '(not in the plan as drafted: an edit added it)'}`);
  const approved = records.approved;
  if (!approved) lines.push('  approved: (not approved yet)');
  else {
    const by =
      approved.approvedBy.map((entry) => `${entry.by}${entry.onBehalfOf ? ` for ${entry.onBehalfOf}` : ''} at ${entry.at}`).join(', ') ||
      'nobody (no approval needed)';
    lines.push(`  approved: revision ${approved.revisionNumber} (${approved.revision}) by ${by}: ${step(approved.step)}`);
    if (approved.verdict)
      lines.push(
        `      ${approved.verdict.decision} by ${approved.verdict.by} at ${approved.verdict.at}${approved.verdict.reason ? ` “${approved.verdict.reason}”` : ''}`,
      );
  }
  if (records.effective.length === 0) lines.push('  effective: (not called yet)');
  for (const call of records.effective)
    lines.push(
      `  effective: attempt ${call.attempt} at ${call.at}: ${JSON.stringify(call.executor)}${call.body !== undefined ? ` body ${JSON.stringify(call.body)}` : ''}`,
    );
  return lines.join('\n');
}

export function formatPlanLine(plan: PlanSnapshot): string {
  return `${plan.runId}  ${plan.status.padEnd(16)}  ${plan.threadId}  "${plan.title}"`;
}

/** What `plans doctor` found: a summary line, then each run that was not consistent and where it differed. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [
    `Checked ${report.checked} runs of ${report.organizationId}: ${report.consistent} consistent, ${report.diverged} diverged, ` +
      `${report.repaired} repaired, ${report.busy} busy, ${report.noWorkflow} without a workflow.`,
  ];
  const show = (value: unknown) => (value === undefined ? 'absent' : JSON.stringify(value));
  for (const run of report.runs) {
    lines.push(`${run.runId}  ${run.verdict}${run.divergences.length > 0 ? `  (${run.divergences.length} differences)` : ''}`);
    for (const divergence of run.divergences.slice(0, 20)) {
      lines.push(`  ${divergence.path}: stored ${show(divergence.stored)}, committed ${show(divergence.committed)}`);
    }
    if (run.divergences.length > 20) lines.push(`  … and ${run.divergences.length - 20} more (--json lists them all)`);
  }
  lines.push(
    report.audit.ok
      ? `The audit record holds through position ${report.audit.position}${report.audit.signedThrough === null ? '' : ` (signed through ${report.audit.signedThrough})`}.`
      : brokenAt(report.audit.break!),
  );
  if (report.diverged > 0) lines.push('Run again with --repair to rewrite the diverged records from what Temporal committed.');
  if (report.busy > 0) lines.push('Busy runs were still storing what they did; run again to examine them.');
  return lines.join('\n');
}

/** A schedule in one line: its id, whether it fires, and when next. */
export function formatSchedule(view: { scheduleId: string; state: string; paused?: boolean; nextFireTimes?: string[] }): string {
  const next = view.nextFireTimes?.length ? `  next: ${view.nextFireTimes.slice(0, 3).join(', ')}` : '';
  return `${view.scheduleId}  ${view.paused ? 'paused' : view.state}${next}`;
}

/** One token per line: id, principal, kind and roles, and whether it is revoked. */
export function formatToken(token: TokenView): string {
  const roles = token.roles.length > 0 ? ` roles ${token.roles.join(',')}` : '';
  const state = token.revokedAt ? `revoked ${token.revokedAt} by ${token.revokedBy}` : `created ${token.createdAt} by ${token.createdBy}`;
  return `${token.tokenId}  ${token.principalId}  ${token.kind}${roles}  ${state}`;
}

/** An approval policy for people: its version, who set it, and each rule. */
export function formatPolicy(record: PolicyRecord): string {
  const { policy } = record;
  return [
    `Approval policy of ${record.organizationId}, version ${record.version}${record.updatedBy ? ` (set by ${record.updatedBy} at ${record.updatedAt})` : ' (the defaults)'}`,
    `  approvers:     ${policy.approvers.join(', ')}`,
    `  required:      ${policy.required} distinct person${policy.required === 1 ? '' : 's'}; any eligible rejection ends the run`,
    `  skip approval: ${policy.skipApproval.length > 0 ? policy.skipApproval.join(', ') : 'nobody'}`,
    `  expires after: ${policy.expiresAfter}, then ${policy.onExpiry === 'reject' ? 'rejected' : 'approved'} by system`,
    ...(policy.roles.length > 0 ? [`  own roles:     ${policy.roles.join(', ')}`] : []),
  ].join('\n');
}

/** One delegation per line: `ID  alice → bob  until …  (reason)`, and when and by whom it was revoked. */
export function formatDelegation(delegation: Delegation): string {
  const reason = delegation.reason ? `  (${delegation.reason})` : '';
  const revoked = delegation.revokedAt ? `  revoked ${delegation.revokedAt} by ${delegation.revokedBy}` : '';
  return `${delegation.delegationId}  ${delegation.from} → ${delegation.to}  until ${delegation.until}${reason}${revoked}`;
}

/** Where an audit record breaks, in the words every report uses. */
function brokenAt(found: ChainBreak): string {
  return `The audit record does not hold at position ${found.position} (${found.problem}): ${found.message}`;
}

/** What a verification of the audit record says (`plans audit verify`), in a line or two. */
export function formatVerifyReport(report: VerifyReport): string {
  const covered =
    report.signedThrough === null
      ? 'no signed head yet'
      : `signed through position ${report.signedThrough} (keys ${report.keyIds.join(', ')})`;
  const span = report.from === null ? 'no chained events' : `positions ${report.from}–${report.to}`;
  const counts = `${report.events} events checked${report.links ? `, ${report.links} links followed` : ''}${report.unchained ? `, ${report.unchained} stored before the chain (unchained)` : ''}`;
  if (report.ok) return `The audit record holds: organization ${report.organizationId}, ${span}, ${counts}, ${covered}.`;
  return `${brokenAt(report.break!)}\nChecked before it: ${counts}.`;
}
