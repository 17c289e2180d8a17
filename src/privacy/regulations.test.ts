import { describe, expect, it } from 'vitest';
import { overallStatus, type Stage, stagesFor, subjectKeys } from './regulations';

const st = (status: Stage['status']): Stage => ({ name: 'profiles', status });

describe('regulations', () => {
  it('runs the stages of each type in order', () => {
    expect(stagesFor('SUPPRESS_ONLY')).toEqual(['resolve', 'suppress']);
    expect(stagesFor('UNSUPPRESS')).toEqual(['unsuppress']);
    expect(stagesFor('DELETE_INTERNAL')).not.toContain('destinations');
    expect(stagesFor('DELETE_INTERNAL')).not.toContain('suppress');
    expect(stagesFor('SUPPRESS_WITH_DELETE')).toEqual([
      'resolve',
      'suppress',
      'profiles',
      'identity',
      'd1',
      'debugger',
      'archive',
      'destinations',
    ]);
    expect(stagesFor('DELETE_ONLY')).toContain('destinations');
  });

  it('derives the overall status from the stages', () => {
    expect(overallStatus([st('PENDING'), st('PENDING')])).toBe('INITIALIZED');
    expect(overallStatus([st('FINISHED'), st('PENDING')])).toBe('RUNNING');
    expect(overallStatus([st('FINISHED'), st('SKIPPED')])).toBe('FINISHED');
    expect(overallStatus([st('FINISHED'), st('FAILED')])).toBe('PARTIAL_SUCCESS');
    expect(overallStatus([st('FINISHED'), st('PARTIAL_SUCCESS')])).toBe('PARTIAL_SUCCESS');
    expect(overallStatus([st('FAILED'), st('SKIPPED')])).toBe('FAILED');
  });

  it('normalises subject ids as identity resolution does', () => {
    expect(subjectKeys('EMAIL', [' Jane@Example.com ', 'jane@example.com'])).toEqual(['email:jane@example.com']);
    expect(subjectKeys('PHONE', ['+1 (555) 010-2000'])).toEqual(['phone:+15550102000']);
    expect(subjectKeys('USER_ID', ['u1', ''])).toEqual(['user_id:u1']);
  });
});
