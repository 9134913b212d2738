/**
 * Kubernetes' own Pod Security Admission fixtures (v1.37): with a level's preset,
 * every pass/ pod gives no finding and every fail/ pod a finding from the rule that
 * implements the check its file name names.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { compileRules, expandPreset, inspectObject, runRules } from '@portcullis/policy-engine';
import { NO_SHARED, SHARED, sharedAvailable } from '../shared-fixtures';

/** PSA check name (file name without its number) -> the rule implementing it. */
const CHECK_TO_RULE: Record<string, string> = {
  allowprivilegeescalation: 'privilege-escalation',
  apparmorprofile: 'apparmor-profile',
  capabilities_baseline: 'capabilities',
  capabilities_restricted: 'capabilities',
  hostnamespaces: 'host-namespaces',
  hostpathvolumes: 'host-path-volumes',
  hostports: 'host-ports',
  hostprobesandhostlifecycle: 'host-probes',
  privileged: 'privileged-container',
  procmount: 'proc-mount',
  procmount_restricted: 'proc-mount',
  restrictedvolumes: 'volume-types',
  runasnonroot: 'run-as-non-root',
  runasuser: 'run-as-non-root',
  seccompprofile_baseline: 'seccomp-profile',
  seccompprofile_restricted: 'seccomp-profile',
  selinuxoptions: 'selinux-options',
  sysctls: 'sysctls',
  windowshostprocess: 'windows-host-process',
};

const ROOT = path.join(SHARED, 'conformance', 'pss');
const available = sharedAvailable('conformance/pss');
const ctx = { defaultNamespace: 'fixtures', now: new Date() };
let counted = 0;

for (const level of ['baseline', 'restricted'] as const) {
  describe(`PSS ${level}`, { skip: available ? false : NO_SHARED('conformance/pss') }, () => {
    if (!available) return;
    const rules = compileRules(expandPreset(`pss-${level}`));
    for (const outcome of ['pass', 'fail'] as const) {
      const dir = path.join(ROOT, level, outcome);
      for (const file of fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()) {
        counted++;
        it(`${outcome}/${file}`, () => {
          const pod: unknown = YAML.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
          const findings = runRules(inspectObject(pod, ctx.defaultNamespace), rules, ctx);
          if (outcome === 'pass') {
            assert.deepEqual(
              findings.map((f) => `${f.rule} ${f.path}`),
              [],
            );
          } else {
            const check = file.replace(/\d*\.yaml$/, '');
            const rule = CHECK_TO_RULE[check];
            assert.ok(rule, `no rule is mapped to the PSA check ${check}`);
            assert.ok(
              findings.some((f) => f.rule === rule),
              `expected a ${rule} finding, got ${JSON.stringify(findings.map((f) => f.rule))}`,
            );
          }
        });
      }
    }
  });
}

describe('the fixture set', { skip: available ? false : NO_SHARED('conformance/pss') }, () => {
  it('has all 148 fixtures', () => assert.equal(counted, 148));
});
