// What the Profile DO, the work-queue consumer and the admin API use from audiences. The pure
// core (definitions, compile, evaluate, emit) is free of I/O; cache/store/membership talk to D1.
export type { BackfillMessage } from './backfill';
export { backfillProgress, reportBackfillProgress, requestBackfill } from './backfill';
export { clearDefinitionCache, getDefinitions } from './cache';
export type { DefinitionSet } from './compile';
export { compileDefinitions, eventQuery } from './compile';
export { Audience, AudiencePreview, ComputedTrait } from './definitions';
export type { EmitIdentity, EmitOptions } from './emit';
export { changeToEvent, personasContext } from './emit';
export type { AudienceSnapshot, Change, Evaluation, SnapshotEvent } from './evaluate';
export { evaluateProfile } from './evaluate';
export type { MembershipChange } from './membership';
export { recordMembershipChanges } from './membership';
export { estimateAudienceSize } from './preview';
