// The MFA rule (identity/mfa-policy.ts) as a table, without a server: every combination of the
// application's policy, the hook's decision, the request's acr, the session, the user's factor and
// a remembered browser; and which lookups decideMfa makes for the journey and the provider's check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideMfa, mfaPolicy, type MfaFacts, type MfaReason } from '../../src/identity/mfa-policy.ts';

type Row = [policy: MfaFacts['policy'], hook: MfaFacts['hook'], requested: boolean, sessionHasMfa: boolean, hasFactor: boolean, remembered: boolean, ask: boolean, reason: MfaReason];

// policy      hook       acr?   session  factor remembered → ask    reason
const TABLE: Row[] = [
  ['off', null, false, false, false, false, false, 'policy_off'],
  ['off', null, false, false, true, false, false, 'policy_off'],
  ['off', null, true, false, false, false, true, 'acr_requested'],
  ['off', null, true, false, true, true, true, 'acr_requested'],
  ['off', 'require', false, false, false, false, true, 'hook_require'],
  ['off', 'require', false, false, true, true, true, 'hook_require'],
  ['off', 'skip', true, false, true, false, false, 'hook_skip'],
  ['optional', null, false, false, false, false, false, 'no_factor'],
  ['optional', null, false, false, true, false, true, 'policy'],
  ['optional', null, false, false, true, true, false, 'remembered_device'],
  ['optional', null, true, false, false, false, true, 'acr_requested'],
  ['optional', null, true, false, true, true, true, 'acr_requested'],
  ['optional', 'require', false, false, false, false, true, 'hook_require'],
  ['optional', 'require', false, false, true, true, true, 'hook_require'],
  ['optional', 'skip', false, false, true, false, false, 'hook_skip'],
  ['optional', 'skip', true, false, true, false, false, 'hook_skip'],
  ['required', null, false, false, false, false, true, 'policy'],
  ['required', null, false, false, true, false, true, 'policy'],
  ['required', null, false, false, true, true, false, 'remembered_device'],
  ['required', null, true, false, true, true, true, 'acr_requested'],
  ['required', 'skip', false, false, false, false, true, 'policy'],
  ['required', 'skip', false, false, true, true, false, 'remembered_device'],
  ['required', 'skip', true, false, true, true, true, 'acr_requested'],
  ['required', 'require', false, false, true, true, true, 'hook_require'],
  ['required', null, true, true, true, false, false, 'session_has_mfa'],
  ['optional', null, false, true, true, false, false, 'session_has_mfa'],
  ['off', null, true, true, false, false, false, 'session_has_mfa'],
];

const facts = (row: Row): MfaFacts => ({ policy: row[0], hook: row[1], requested: row[2], sessionHasMfa: row[3], hasFactor: row[4], remembered: row[5] });

describe('MFA policy', () => {
  for (const row of TABLE) {
    it(`${row.slice(0, 6).join(' / ')} → ${row[6] ? 'ask' : 'no'} (${row[7]})`, () => {
      assert.deepEqual(mfaPolicy(facts(row)), { ask: row[6], reason: row[7] });
    });
  }

  it('holds its rules over every combination', () => {
    let seen = 0;
    for (const policy of ['off', 'optional', 'required'] as const) {
      for (const hook of [null, 'require', 'skip'] as const) {
        for (const requested of [false, true]) {
          for (const sessionHasMfa of [false, true]) {
            for (const hasFactor of [false, true]) {
              for (const remembered of [false, true]) {
                const all: MfaFacts = { policy, hook, requested, sessionHasMfa, hasFactor, remembered };
                const decision = mfaPolicy(all);
                assert.ok(!('needs' in decision), 'all facts known: a decision');
                seen++;
                const label = JSON.stringify(all);
                if (sessionHasMfa) assert.equal(decision.ask, false, label);
                // A step-up is never waived by a remembered browser; a skip never waives "required".
                else if (hook === 'require') assert.equal(decision.ask, true, label);
                else if (requested && hook !== 'skip') assert.equal(decision.ask, true, label);
                else if (policy === 'required' && !remembered) assert.equal(decision.ask, true, label);
                if (!sessionHasMfa && hook === 'skip' && policy !== 'required') assert.equal(decision.ask, false, label);
                if (policy === 'off' && hook !== 'require' && !requested) assert.equal(decision.ask, false, label);
                // Without a step-up, the browser's being remembered only ever takes an ask away.
                if (decision.reason === 'remembered_device') {
                  assert.deepEqual(mfaPolicy({ ...all, remembered: false }), { ask: true, reason: 'policy' }, label);
                }
              }
            }
          }
        }
      }
    }
    assert.equal(seen, 144);
  });

  it('names the lookup it still needs, and only when the answer depends on it', () => {
    const base: MfaFacts = { policy: 'optional', hook: null, requested: false, sessionHasMfa: false };
    assert.deepEqual(mfaPolicy(base), { needs: 'hasFactor' });
    assert.deepEqual(mfaPolicy({ ...base, hasFactor: true }), { needs: 'remembered' });
    assert.deepEqual(mfaPolicy({ ...base, policy: 'required' }), { needs: 'remembered' });
    assert.deepEqual(mfaPolicy({ ...base, policy: 'required', hasFactor: false }), { ask: true, reason: 'policy' });
    assert.deepEqual(mfaPolicy({ ...base, policy: 'off' }), { ask: false, reason: 'policy_off' });
    assert.deepEqual(mfaPolicy({ ...base, requested: true }), { ask: true, reason: 'acr_requested' });
  });
});

describe('decideMfa', () => {
  const run = async (facts: MfaFacts, answers: { hasFactor: boolean; remembered: boolean }) => {
    const asked: string[] = [];
    const decision = await decideMfa(facts, {
      hasFactor: async () => {
        asked.push('hasFactor');
        return answers.hasFactor;
      },
      remembered: async () => {
        asked.push('remembered');
        return answers.remembered;
      },
    });
    return { decision, asked };
  };

  it('the provider under "required": the remembered browser only, not the factors', async () => {
    const { decision, asked } = await run({ policy: 'required', hook: null, requested: false, sessionHasMfa: false }, { hasFactor: true, remembered: true });
    assert.deepEqual(decision, { ask: false, reason: 'remembered_device' });
    assert.deepEqual(asked, ['remembered']);
  });

  it('under "optional": the factors, then the browser only for a user with one', async () => {
    const facts: MfaFacts = { policy: 'optional', hook: null, requested: false, sessionHasMfa: false };
    assert.deepEqual(await run(facts, { hasFactor: false, remembered: true }), { decision: { ask: false, reason: 'no_factor' }, asked: ['hasFactor'] });
    assert.deepEqual(await run(facts, { hasFactor: true, remembered: false }), { decision: { ask: true, reason: 'policy' }, asked: ['hasFactor', 'remembered'] });
  });

  it('the journey, which knows the factors: no lookup of the browser for a user who must enrol', async () => {
    const { decision, asked } = await run({ policy: 'required', hook: null, requested: false, sessionHasMfa: false, hasFactor: false }, { hasFactor: false, remembered: true });
    assert.deepEqual(decision, { ask: true, reason: 'policy' });
    assert.deepEqual(asked, []);
  });

  it('a step-up or a strong session: no lookup at all', async () => {
    assert.deepEqual((await run({ policy: 'optional', hook: null, requested: true, sessionHasMfa: false }, { hasFactor: true, remembered: true })).asked, []);
    assert.deepEqual((await run({ policy: 'required', hook: null, requested: false, sessionHasMfa: true }, { hasFactor: true, remembered: false })).asked, []);
  });
});
