// The login journey's state machine (flows/steps.ts) without a server: where each event leads from
// each step, that an event of a step left behind changes nothing, that a stored step reads back, and
// that the diagram in docs/ARCHITECTURE.md ("The login journey") draws the moves the code makes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { asStep, MOVES, next, START, STEP_NAMES, type JourneyEvent, type JourneyStep, type ProfilingStep, type StepName } from '../../src/flows/steps.ts';

const page = { stage: 1, fields: [], consents: [], asked: [] };
const profilingLogin: ProfilingStep = { name: 'profiling', flow: 'login', userId: 'u1', amr: ['pwd'], ...page };
const signUp = { email: 'ada@example.com', passwordHash: '$argon2id$…', given_name: null, family_name: null, profile: {}, attributes: {}, metadata: {}, consents: {} };
const profilingRegistration: ProfilingStep = { name: 'profiling', flow: 'registration', signUp, ...page };
/** One step of each kind and mode. */
const STEPS: JourneyStep[] = [
  START,
  { name: 'mfa', mode: 'enrol', userId: 'u1' },
  { name: 'mfa', mode: 'code', userId: 'u1', factorId: 'f1' },
  { name: 'mfa', mode: 'confirm', userId: 'u1', factorId: 'f2' },
  { name: 'mfa', mode: 'recovery', userId: 'u1', factorId: 'f1' },
  { name: 'recovery-codes', userId: 'u1', amr: ['pwd', 'otp', 'mfa'] },
  { name: 'proved', userId: 'u1', amr: ['pwd'] },
  profilingLogin,
  profilingRegistration,
];
const EVENTS: JourneyEvent[] = [
  { type: 'restart' },
  { type: 'mfa.enrol', userId: 'u1' },
  { type: 'mfa.challenge', userId: 'u1', factorId: 'f3' },
  { type: 'mfa.recovery' },
  { type: 'mfa.confirm', factorId: 'f4' },
  { type: 'mfa.enrolled', amr: ['pwd', 'otp', 'mfa'] },
  { type: 'proved', userId: 'u1', amr: ['pwd', 'otp', 'mfa'] },
  { type: 'profiling', step: profilingLogin },
  { type: 'profiling', step: profilingRegistration },
];

describe('journey steps', () => {
  it('every event of the table, from every step: its target when allowed, else no change', () => {
    assert.deepEqual(Object.keys(MOVES).sort(), [...new Set(EVENTS.map((e) => e.type))].sort());
    for (const from of STEPS) {
      for (const event of EVENTS) {
        const move = MOVES[event.type];
        const to = next(from, event);
        const label = `${event.type} from ${JSON.stringify(from)}`;
        if (move.from !== 'any' && !move.from.includes(from.name)) assert.deepEqual(to, from, label);
        else assert.ok(to.name === move.to || to === from, label);
      }
    }
  });

  it('the MFA moves keep the user and the factor they are about', () => {
    const code: JourneyStep = { name: 'mfa', mode: 'code', userId: 'u1', factorId: 'f1' };
    assert.deepEqual(next(code, { type: 'mfa.recovery' }), { name: 'mfa', mode: 'recovery', userId: 'u1', factorId: 'f1' });
    assert.deepEqual(next({ name: 'mfa', mode: 'enrol', userId: 'u1' }, { type: 'mfa.recovery' }), { name: 'mfa', mode: 'recovery', userId: 'u1', factorId: null });
    assert.deepEqual(next({ name: 'mfa', mode: 'enrol', userId: 'u1' }, { type: 'mfa.confirm', factorId: 'f2' }), { name: 'mfa', mode: 'confirm', userId: 'u1', factorId: 'f2' });
    assert.deepEqual(next({ name: 'mfa', mode: 'confirm', userId: 'u1', factorId: 'f2' }, { type: 'mfa.enrolled', amr: ['pwd', 'otp', 'mfa'] }), {
      name: 'recovery-codes',
      userId: 'u1',
      amr: ['pwd', 'otp', 'mfa'],
    });
    // Recovery codes come only after confirming a new factor, not after a code of an old one.
    assert.deepEqual(next(code, { type: 'mfa.enrolled', amr: ['pwd'] }), code);
  });

  it("a login's profile follows only its own user's proved factors", () => {
    const proved: JourneyStep = { name: 'proved', userId: 'u1', amr: ['pwd'] };
    assert.deepEqual(next(proved, { type: 'profiling', step: profilingLogin }), profilingLogin);
    assert.deepEqual(next(START, { type: 'profiling', step: profilingLogin }), START);
    assert.deepEqual(next({ name: 'proved', userId: 'u2', amr: ['pwd'] }, { type: 'profiling', step: profilingLogin }).name, 'proved');
    assert.deepEqual(next(START, { type: 'profiling', step: profilingRegistration }), profilingRegistration);
  });

  it("a login's profiling page is followed by its next page, for the same user only", () => {
    const second: ProfilingStep = { ...profilingLogin, stage: 2, asked: ['company'] };
    assert.deepEqual(next(profilingLogin, { type: 'profiling', step: second }), second);
    assert.deepEqual(next({ ...profilingLogin, userId: 'u2' }, { type: 'profiling', step: second }), { ...profilingLogin, userId: 'u2' });
    assert.deepEqual(next(profilingRegistration, { type: 'profiling', step: second }), profilingRegistration);
  });

  it('a profiling page stored before pages had stages: a login goes on at page 1, a sign-up starts over', () => {
    const oldLogin = { name: 'profiling', flow: 'login', userId: 'u1', amr: ['pwd'], fields: [], consents: [] };
    assert.deepEqual(asStep(oldLogin), profilingLogin);
    assert.deepEqual(asStep({ name: 'profiling', flow: 'registration', userId: null, fields: [], consents: [] }), START);
  });

  it('a stored step reads back; anything else is the start', () => {
    for (const step of STEPS) assert.deepEqual(asStep(JSON.parse(JSON.stringify(step))), step);
    for (const junk of [undefined, null, 'mfa', 3, {}, { name: 'done' }, { name: '__proto__' }]) assert.deepEqual(asStep(junk), START);
  });

  it('the diagram in docs/ARCHITECTURE.md draws the moves of the table', () => {
    const doc = readFileSync(new URL('../../docs/ARCHITECTURE.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## The login journey'));
    const block = /```mermaid\n(stateDiagram-v2\n[\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, 'a stateDiagram-v2 block in "The login journey"');
    const edges = [...block.matchAll(/^\s*(\S+) --> (\S+) : (.+)$/gm)].map(([, from, to, label]) => ({ from: from!, to: to!, label: label!.trim() }));
    const name = (id: string) => id.replaceAll('_', '-') as StepName;
    const drawn = new Set<string>();
    for (const edge of edges) {
      if (edge.from === '[*]' || edge.to === '[*]') continue;
      const move = MOVES[edge.label as keyof typeof MOVES];
      assert.ok(move, `${edge.from} --> ${edge.to}: "${edge.label}" is an event`);
      assert.ok(STEP_NAMES.includes(name(edge.from)) && STEP_NAMES.includes(name(edge.to)), `${edge.from}, ${edge.to} are steps`);
      assert.equal(name(edge.to), move.to, `${edge.label} leads to ${move.to}`);
      if (move.from !== 'any') assert.ok(move.from.includes(name(edge.from)), `${edge.label} may start from ${edge.from}`);
      drawn.add(edge.label);
    }
    assert.deepEqual([...drawn].sort(), Object.keys(MOVES).sort(), 'every event is drawn');
    for (const step of STEP_NAMES)
      assert.ok(
        edges.some((e) => name(e.to) === step),
        `${step} is reached in the diagram`,
      );
  });
});
