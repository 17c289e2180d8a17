import { z } from 'zod';
import { normalizeValue } from '../identity/identifiers';

/** Segment's regulation types (Public API `createRegulation`). */
export const RegulationType = z
  .enum([
    'SUPPRESS_ONLY',
    'UNSUPPRESS',
    'DELETE_INTERNAL',
    'SUPPRESS_WITH_DELETE_INTERNAL',
    'DELETE_ONLY',
    'SUPPRESS_WITH_DELETE',
  ])
  .describe('What to do: suppress new data, lift a suppression, delete internally, and/or at destinations');
export type RegulationType = z.infer<typeof RegulationType>;

export const SubjectType = z.enum(['USER_ID', 'ANONYMOUS_ID', 'EMAIL', 'PHONE']).describe('What the subject ids are');
export type SubjectType = z.infer<typeof SubjectType>;

/** Most subject ids one regulation may name (Segment's limit). */
export const MAX_SUBJECTS = 5000;

export const CreateRegulation = z.object({
  regulationType: RegulationType,
  subjectType: SubjectType,
  subjectIds: z
    .array(z.string().min(1).max(1024))
    .min(1)
    .max(MAX_SUBJECTS)
    .describe(`The people the regulation applies to (1 to ${MAX_SUBJECTS})`),
});
export type CreateRegulation = z.infer<typeof CreateRegulation>;

export const REGULATION_STATUSES = ['INITIALIZED', 'RUNNING', 'FINISHED', 'FAILED', 'PARTIAL_SUCCESS'] as const;
export type RegulationStatus = (typeof REGULATION_STATUSES)[number];

/**
 * The stages of a run, in order. `resolve` finds the subject's profiles and every identifier of
 * them; `suppress`/`unsuppress` change the ingest drop list; the deletion stages erase one store
 * each; `destinations` forwards the deletion to vendors that have a deletion API.
 */
export const STAGE_NAMES = [
  'resolve',
  'suppress',
  'unsuppress',
  'profiles',
  'identity',
  'd1',
  'debugger',
  'archive',
  'destinations',
] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export type StageStatus = 'PENDING' | 'RUNNING' | 'FINISHED' | 'SKIPPED' | 'FAILED' | 'PARTIAL_SUCCESS';

/** Progress of one stage: `done` of `total` items (profiles, keys, rows, destinations). */
export interface Stage {
  name: StageName;
  status: StageStatus;
  total?: number;
  done?: number;
  error?: string;
  finishedAt?: string;
  /** Stage-specific detail, e.g. each destination's answer to a forwarded deletion. */
  details?: unknown;
}

const INTERNAL: StageName[] = ['profiles', 'identity', 'd1', 'debugger', 'archive'];

/** Which stages a regulation type runs (Segment's semantics: `_INTERNAL` stays inside the CDP). */
export function stagesFor(type: RegulationType): StageName[] {
  switch (type) {
    case 'SUPPRESS_ONLY':
      return ['resolve', 'suppress'];
    case 'UNSUPPRESS':
      return ['unsuppress'];
    case 'DELETE_INTERNAL':
      return ['resolve', ...INTERNAL];
    case 'SUPPRESS_WITH_DELETE_INTERNAL':
      return ['resolve', 'suppress', ...INTERNAL];
    case 'DELETE_ONLY':
      return ['resolve', ...INTERNAL, 'destinations'];
    case 'SUPPRESS_WITH_DELETE':
      return ['resolve', 'suppress', ...INTERNAL, 'destinations'];
  }
}

/** The overall status from the stages: any failure makes it FAILED, or PARTIAL_SUCCESS if some work was done. */
export function overallStatus(stages: readonly Stage[]): RegulationStatus {
  if (stages.every((s) => s.status === 'PENDING')) return 'INITIALIZED';
  if (stages.some((s) => s.status === 'PENDING' || s.status === 'RUNNING')) return 'RUNNING';
  const failed = stages.filter((s) => s.status === 'FAILED').length;
  const partial = stages.some((s) => s.status === 'PARTIAL_SUCCESS');
  if (!failed && !partial) return 'FINISHED';
  const worked = stages.some((s) => s.status === 'FINISHED' || s.status === 'PARTIAL_SUCCESS');
  return worked ? 'PARTIAL_SUCCESS' : 'FAILED';
}

const KIND: Record<SubjectType, string> = {
  USER_ID: 'user_id',
  ANONYMOUS_ID: 'anonymous_id',
  EMAIL: 'email',
  PHONE: 'phone',
};

/** The identifier keys (`kind:value`, normalised as identity does) a regulation names. */
export function subjectKeys(type: SubjectType, ids: readonly string[]): string[] {
  const kind = KIND[type];
  const out = new Set<string>();
  for (const id of ids) {
    const value = normalizeValue(kind, id);
    if (value !== undefined) out.add(`${kind}:${value}`);
  }
  return [...out];
}
