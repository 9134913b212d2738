/**
 * Every REST route and GraphQL operation of the running API declares who may call it:
 * `@Access(permission)` or `@Public()`. The tenancy guard already refuses an undeclared
 * handler at request time; this finds one before any request does. A `@Public()` handler
 * needs no user token, so each must bring its own credential (an agent endpoint, or a
 * guard of its own such as the scan upload token's) or be one of the few anonymous routes
 * named here; no GraphQL operation is public.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Controller, Get } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { RESOLVER_TYPE_METADATA } from '@nestjs/graphql';
import { AGENT_KEY } from '../../src/agent/agent-auth.guard';
import { Public, PUBLIC_ROUTE } from '../../src/auth';
import { ACCESS_KEY } from '../../src/tenancy/access.decorator';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

/** Answer without any credential: probes, metrics, and the keys agents verify bundles with. */
const ANONYMOUS = [
  'HealthController.healthz',
  'HealthController.readyz',
  'HealthController.metricsText',
  'JwksController.jwks',
];

interface EntryPoint {
  readonly name: string;
  readonly kind: 'route' | 'graphql';
  readonly access: string | undefined;
  readonly isPublic: boolean;
  readonly agent: boolean;
  readonly ownGuards: boolean;
}

/** The handlers of `classes` that a request can reach: routes and Query/Mutation/Subscription fields. */
function entryPointsOf(
  classes: Iterable<abstract new (...args: never[]) => unknown>,
  reflector: Reflector,
): EntryPoint[] {
  const out: EntryPoint[] = [];
  for (const cls of classes) {
    const proto = cls.prototype as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(proto)) {
      const handler = key === 'constructor' ? undefined : Object.getOwnPropertyDescriptor(proto, key)?.value;
      if (typeof handler !== 'function') continue;
      const route =
        Reflect.getMetadata(PATH_METADATA, handler) !== undefined &&
        Reflect.getMetadata(METHOD_METADATA, handler) !== undefined;
      const operation = Reflect.getMetadata(RESOLVER_TYPE_METADATA, handler) as string | undefined;
      if (!route && !operation) continue;
      const targets = [handler, cls];
      out.push({
        name: `${cls.name}.${key}`,
        kind: route ? 'route' : 'graphql',
        access: reflector.getAllAndOverride<string | undefined>(ACCESS_KEY, targets),
        isPublic: reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) === true,
        agent: reflector.getAllAndOverride<boolean>(AGENT_KEY, targets) === true,
        ownGuards: targets.some(
          (t) => ((Reflect.getMetadata(GUARDS_METADATA, t) as unknown[] | undefined) ?? []).length > 0,
        ),
      });
    }
  }
  return out;
}

const undeclared = (entries: readonly EntryPoint[]) =>
  entries.filter((e) => !e.access && !e.isPublic).map((e) => e.name);
const anonymous = (entries: readonly EntryPoint[]) =>
  entries.filter((e) => e.isPublic && !e.agent && !e.ownGuards).map((e) => e.name);

describe(
  'every entry point of the API declares its access',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let h: ApiHarness;
    let entries: EntryPoint[];

    before(async () => {
      h = await startApi();
      const classes = new Set<abstract new (...args: never[]) => unknown>();
      for (const mod of h.app.get(ModulesContainer).values()) {
        for (const wrapper of [...mod.controllers.values(), ...mod.providers.values()]) {
          if (typeof wrapper.metatype === 'function' && wrapper.metatype.prototype)
            classes.add(wrapper.metatype as abstract new (...args: never[]) => unknown);
        }
      }
      entries = entryPointsOf(classes, h.app.get(Reflector));
    });
    after(async () => {
      await h?.close();
    });

    it('finds the routes and operations of the running API', () => {
      const names = new Set(entries.map((e) => e.name));
      for (const known of [
        'AgentBundleController.bundle',
        'ScanReportsController.upload',
        'PolicyResolver.createPolicy',
        'MeResolver.me',
        ...ANONYMOUS,
      ]) {
        assert.ok(names.has(known), `${known} among ${entries.length} entry points`);
      }
      assert.ok(entries.filter((e) => e.kind === 'graphql').length > 20);
    });

    it('declares @Access or @Public on each', () => {
      assert.deepEqual(undeclared(entries), []);
    });

    it('no GraphQL operation is public', () => {
      assert.deepEqual(
        entries.filter((e) => e.kind === 'graphql' && e.isPublic).map((e) => e.name),
        [],
      );
    });

    it('a public route carries its own credential, or is one of the named anonymous routes', () => {
      assert.deepEqual(anonymous(entries).sort(), [...ANONYMOUS].sort());
    });

    it('the check finds an undeclared route and an anonymous one (it can fail)', () => {
      @Controller('probe')
      class ProbeController {
        @Get('a')
        undeclaredRoute(): string {
          return 'a';
        }

        @Public()
        @Get('b')
        anonymousRoute(): string {
          return 'b';
        }
      }
      const probe = entryPointsOf([ProbeController], new Reflector());
      assert.deepEqual(undeclared(probe), ['ProbeController.undeclaredRoute']);
      assert.deepEqual(anonymous(probe), ['ProbeController.anonymousRoute']);
    });
  },
);
