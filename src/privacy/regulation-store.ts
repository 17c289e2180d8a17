import { ulid } from '../lib/ids';
import {
  type CreateRegulation,
  overallStatus,
  type RegulationStatus,
  type RegulationType,
  type Stage,
  type SubjectType,
  stagesFor,
} from './regulations';
import { scrubbedDelete } from './scrub';

/** What the later stages need to know about the subject, found by `resolve`. */
export interface Subjects {
  /** Live profile ids and the tombstones merged into them. */
  profiles: string[];
  /** Every identifier key of those profiles, plus the keys the request named. */
  keys: string[];
}

/** A regulation as stored. */
export interface Regulation {
  id: string;
  regulationType: RegulationType;
  subjectType: SubjectType;
  subjectIds: string[];
  status: RegulationStatus;
  stages: Stage[];
  subjects: Subjects | null;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

interface Row {
  id: string;
  regulation_type: string;
  subject_type: string;
  subject_ids: string;
  status: string;
  stages: string;
  subjects?: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

const fromRow = (r: Row): Regulation => ({
  id: r.id,
  regulationType: r.regulation_type as RegulationType,
  subjectType: r.subject_type as SubjectType,
  subjectIds: JSON.parse(r.subject_ids),
  status: r.status as RegulationStatus,
  stages: JSON.parse(r.stages),
  subjects: r.subjects ? JSON.parse(r.subjects) : null,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at,
});

/** Stores a new regulation, every stage pending. */
export async function createRegulation(d1: D1Database, req: CreateRegulation, createdBy: string): Promise<Regulation> {
  const now = new Date().toISOString();
  const stages: Stage[] = stagesFor(req.regulationType).map((name) => ({ name, status: 'PENDING' }));
  const reg: Regulation = {
    id: ulid(),
    regulationType: req.regulationType,
    subjectType: req.subjectType,
    subjectIds: [...new Set(req.subjectIds)],
    status: 'INITIALIZED',
    stages,
    subjects: null,
    createdBy,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  await d1
    .prepare(
      `INSERT INTO regulations (id, regulation_type, subject_type, subject_ids, status, stages, created_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      reg.id,
      reg.regulationType,
      reg.subjectType,
      JSON.stringify(reg.subjectIds),
      reg.status,
      JSON.stringify(stages),
      createdBy,
      now,
      now,
    )
    .run();
  return reg;
}

export async function findRegulation(d1: D1Database, id: string): Promise<Regulation | undefined> {
  const row = await d1
    .prepare(
      `SELECT r.*, s.subjects FROM regulations r LEFT JOIN regulation_subjects s ON s.regulation_id = r.id WHERE r.id = ?`,
    )
    .bind(id)
    .first<Row>();
  return row ? fromRow(row) : undefined;
}

/** Newest first, `limit` after the cursor (a regulation id). */
export async function listRegulations(d1: D1Database, limit: number, before?: string): Promise<Regulation[]> {
  const rows = before
    ? await d1.prepare('SELECT * FROM regulations WHERE id < ? ORDER BY id DESC LIMIT ?').bind(before, limit).all<Row>()
    : await d1.prepare('SELECT * FROM regulations ORDER BY id DESC LIMIT ?').bind(limit).all<Row>();
  return rows.results.map(fromRow);
}

/** Saves a regulation's stages with the status they add up to. */
export async function saveProgress(d1: D1Database, reg: Regulation): Promise<Regulation> {
  const now = new Date().toISOString();
  const status = overallStatus(reg.stages);
  const ended = status === 'FINISHED' || status === 'FAILED' || status === 'PARTIAL_SUCCESS';
  const next = {
    ...reg,
    status,
    updatedAt: now,
    finishedAt: ended ? now : null,
    subjects: ended ? null : reg.subjects,
  };
  await d1
    .prepare('UPDATE regulations SET status = ?, stages = ?, updated_at = ?, finished_at = ? WHERE id = ?')
    .bind(status, JSON.stringify(next.stages), now, next.finishedAt, reg.id)
    .run();
  return next;
}

/**
 * Keeps the resolved subject for the later stages. Written once and never resized, so the row can
 * be overwritten where it lies when the run ends (`forgetSubjects`).
 */
export async function saveSubjects(d1: D1Database, id: string, subjects: Subjects): Promise<void> {
  await d1
    .prepare('INSERT INTO regulation_subjects (regulation_id, subjects) VALUES (?, ?) ON CONFLICT DO NOTHING')
    .bind(id, JSON.stringify(subjects))
    .run();
}

/** Forgets the resolved subject when the run ends, overwritten where it lies first (it names the person). */
export async function forgetSubjects(d1: D1Database, id: string): Promise<void> {
  await d1.batch(scrubbedDelete(d1, 'regulation_subjects', ['subjects'], 'regulation_id = ?', [id]));
}
