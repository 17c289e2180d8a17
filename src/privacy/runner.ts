import type { EngageWorkMessage } from '../audiences/work-messages';
import { errorText } from '../lib/queue-bodies';
import { eraseArchive } from './archive-stage';
import {
  eraseD1,
  eraseDebugger,
  eraseIdentity,
  eraseProfiles,
  resolveSubjects,
  type StageOutcome,
  sealedNeedles,
} from './erase';
import { forwardDeletion } from './forward';
import { findRegulation, forgetSubjects, type Regulation, saveProgress, saveSubjects } from './regulation-store';
import { type StageName, subjectKeys } from './regulations';
import { scrubFreeSpace } from './scrub';
import { clearSuppressionCache } from './suppression';
import { suppressKeys, unsuppressKeys } from './suppression-store';

/** The `work` queue message that runs (or resumes) a regulation. */
export interface RegulationWork {
  type: 'privacy.regulation';
  regulationId: string;
}

/** After this many deliveries a stage that keeps throwing is marked FAILED and the run ends. */
export const MAX_ATTEMPTS = 8;

const isRegulationWork = (b: unknown): b is RegulationWork =>
  typeof b === 'object' && b !== null && (b as RegulationWork).type === 'privacy.regulation';

/**
 * Splits a `work` batch into regulation runs and everything else (audiences). A body that cannot
 * be read stays with the rest, whose consumer records it.
 */
export function splitWork(batch: MessageBatch<unknown>): {
  runs: Message<RegulationWork>[];
  rest: MessageBatch<EngageWorkMessage>;
} {
  const runs: Message<RegulationWork>[] = [];
  const rest: Message<unknown>[] = [];
  for (const msg of batch.messages) {
    let mine = false;
    try {
      mine = isRegulationWork(msg.body) && typeof msg.body.regulationId === 'string';
    } catch {}
    if (mine) runs.push(msg as Message<RegulationWork>);
    else rest.push(msg);
  }
  // A plain batch of the rest: workerd's own batch object cannot be re-parented.
  const restBatch = {
    queue: batch.queue,
    messages: rest,
    ackAll: () => {
      for (const m of rest) m.ack();
    },
    retryAll: (options?: QueueRetryOptions) => {
      for (const m of rest) m.retry(options);
    },
  } as unknown as MessageBatch<EngageWorkMessage>;
  return { runs, rest: restBatch };
}

/** Queues the run of a regulation (also how a test resumes one). */
export async function enqueueRegulation(env: Cloudflare.Env, regulationId: string): Promise<void> {
  await env.WORK_QUEUE.send({ type: 'privacy.regulation', regulationId } satisfies RegulationWork, {
    contentType: 'json',
  });
}

/** Runs each regulation of the batch; acked once it ended, retried while a stage throws. */
export async function consumeRegulations(messages: Message<RegulationWork>[], env: Cloudflare.Env): Promise<void> {
  for (const msg of messages) {
    try {
      await runRegulation(env, msg.body.regulationId, msg.attempts >= MAX_ATTEMPTS);
      msg.ack();
    } catch (err) {
      console.error(`regulation ${msg.body.regulationId}: a stage failed; retrying`, errorText(err));
      msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
    }
  }
}

async function runStage(env: Cloudflare.Env, reg: Regulation, name: StageName): Promise<StageOutcome> {
  if (name === 'unsuppress') {
    const n = await unsuppressKeys(env.DB, subjectKeys(reg.subjectType, reg.subjectIds));
    clearSuppressionCache();
    return { status: 'FINISHED', total: n, done: n };
  }
  if (name === 'resolve') {
    // Resumed after a crash past the write: the stored subject stands (it was written once).
    if (!reg.subjects) {
      reg.subjects = await resolveSubjects(env, subjectKeys(reg.subjectType, reg.subjectIds));
      await saveSubjects(env.DB, reg.id, reg.subjects);
    }
    return { status: 'FINISHED', total: reg.subjectIds.length, done: reg.subjects.profiles.length };
  }
  const subjects = reg.subjects;
  if (!subjects) throw new Error('the subject was not resolved');
  switch (name) {
    case 'suppress':
      await suppressKeys(env.DB, reg.id, subjects.keys);
      clearSuppressionCache();
      return { status: 'FINISHED', total: subjects.keys.length, done: subjects.keys.length };
    case 'profiles':
      return eraseProfiles(env, subjects);
    case 'identity':
      return eraseIdentity(env, subjects);
    case 'd1':
      return eraseD1(env.DB, subjects, await sealedNeedles(env, subjects));
    case 'debugger':
      return eraseDebugger(env, subjects);
    case 'archive':
      return eraseArchive(env, subjects);
    case 'destinations': {
      const { destinations, ...outcome } = await forwardDeletion(env, subjects);
      return { ...outcome, details: destinations } as StageOutcome;
    }
  }
}

/**
 * Runs the regulation's pending stages in order, saving each stage's progress in D1 as it starts
 * and ends. Every stage is idempotent, so a run killed midway resumes (the queue redelivers the
 * message) by running the unfinished stage again. `giveUp`: the message's last attempt; a stage
 * that throws now is marked FAILED and the run ends instead of retrying forever.
 */
export async function runRegulation(env: Cloudflare.Env, id: string, giveUp = false): Promise<Regulation | undefined> {
  let reg = await findRegulation(env.DB, id);
  if (!reg) return undefined;
  for (let i = 0; i < reg.stages.length; i++) {
    const stage = reg.stages[i];
    if (stage.status !== 'PENDING' && stage.status !== 'RUNNING') continue;
    reg.stages[i] = { ...stage, status: 'RUNNING' };
    reg = await saveProgress(env.DB, reg);
    let outcome: StageOutcome & { details?: unknown };
    try {
      outcome = await runStage(env, reg, stage.name);
    } catch (err) {
      if (!giveUp) throw err;
      outcome = { status: 'FAILED', total: 0, done: 0, error: errorText(err) };
      // Nothing after a failed stage can be trusted to have its input: end the run.
      for (let j = i + 1; j < reg.stages.length; j++) reg.stages[j] = { ...reg.stages[j], status: 'SKIPPED' };
    }
    reg.stages[i] = { ...reg.stages[i], ...outcome, finishedAt: new Date().toISOString() };
    if (i === reg.stages.length - 1 || outcome.status === 'FAILED') {
      // Last, so that the subject row is scrubbed too: the filler checkpoints every change before it.
      await forgetSubjects(env.DB, reg.id);
      if (reg.stages.some((s) => s.name === 'd1')) await scrubFreeSpace(env.DB);
    }
    reg = await saveProgress(env.DB, reg);
  }
  return reg;
}
