import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule, Inject } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import type { AppConfig } from '@portcullis/config';
import { PlatformModule, LOGGER, createLogger, type Clock, type Logger } from '@portcullis/platform';
import { AgentAuthGuard, AgentCredentialCheck } from './agent/agent-auth.guard';
import { AgentBundleController } from './agent/agent-bundle.controller';
import { AgentClusterState } from './agent/agent-cluster-state';
import { AgentStatusController } from './agent/agent-status.controller';
import { ALERT_RULE_PROVIDERS } from './alerts/rules/alert-rules.providers';
import { BundleNotifications } from './agent/bundle-notifications';
import { BundlePoll } from './agent/bundle-poll';
import { JwksController } from './agent/jwks.controller';
import { AlertDeliveryService } from './alerts/alert-delivery.service';
import { AlertDestinationService } from './alerts/alert-destination.service';
import { AlertDispatcher } from './alerts/alert-dispatcher';
import { AlertDeliveryResolver, AlertDestinationResolver } from './alerts/alerts.resolver';
import { AuditLogResolver } from './audit/audit-log.resolver';
import { AuditLogWriter } from './audit/audit-log.writer';
import { authOptionsFrom, AuthModule, BearerAuthGuard } from './auth';
import { CloudScopeResolver } from './cloud-scopes/cloud-scope.resolver';
import { CloudScopeService } from './cloud-scopes/cloud-scope.service';
import { ClusterResolver } from './clusters/cluster.resolver';
import { ClusterService } from './clusters/cluster.service';
import { CredentialRevocations } from './clusters/credential-revocations';
import { DomainEvents } from './events/domain-events';
import { graphqlOptions, SCHEMA_FILE } from './graphql/graphql.options';
import { INVENTORY_CONTROLLERS, INVENTORY_PROVIDERS } from './inventory/inventory.providers';
import { RUNNING_CONTROLLERS, RUNNING_PROVIDERS } from './running/running.providers';
import { MeResolver } from './me/me.resolver';
import { HealthController } from './platform/health.controller';
import { EffectivePoliciesResolver } from './policies/effective-policies.resolver';
import { EffectivePoliciesService } from './policies/effective-policies.service';
import { ExemptionService } from './policies/exemption.service';
import { PolicyAsCodeResolver } from './policies/policy-as-code.resolver';
import { PolicyAsCodeService } from './policies/policy-as-code.service';
import { PolicyResolver } from './policies/policy.resolver';
import { PolicyService } from './policies/policy.service';
import { PolicyWriter } from './policies/policy-writer';
import { BundleRolloutResolver } from './rollout/bundle-rollout.resolver';
import { BundleRolloutService } from './rollout/bundle-rollout.service';
import { RoleResolver } from './roles/role.resolver';
import { RoleService } from './roles/role.service';
import { RuleCatalogResolver } from './rule-catalog/rule-catalog.resolver';
import { ArtifactSigningKeys } from './scans/artifact-signing-keys';
import { ScanArtifactLookup } from './scans/scan-artifact-lookup';
import { ScanArtifactLookupController } from './scans/scan-artifact-lookup.controller';
import { ScanArtifactService } from './scans/scan-artifact.service';
import { ScanReportIngestor } from './scans/scan-report-ingestor';
import { ScanReportsController } from './scans/scan-reports.controller';
import { ScanUploadGuard } from './scans/scan-upload.guard';
import { ScanUploadTokenService } from './scans/scan-upload-token.service';
import { ScanArtifactHistoryResolver } from './scans/scan-history';
import { ScanArtifactResolver, ScanUploadTokenResolver } from './scans/scan.resolvers';
import { ApiMetrics } from './platform/metrics';
import { requestLogging } from './platform/request-logging.middleware';
import { SqlPool } from './platform/sql-pool';
import { DbGates } from './platform/tenant-gate';
import { TenancyGuard } from './tenancy/tenancy.guard';
import { TenantDb } from './tenancy/tenant-db';

export interface ApiModuleOptions {
  readonly clock?: Clock;
  /** Where to write the generated schema; false keeps it in memory (tests). */
  readonly schemaFile?: string | false;
}

/** Domain providers of the API, one array per concern, composed once here. */
const DOMAIN_PROVIDERS = [
  TenantDb,
  AuditLogWriter,
  AuditLogResolver,
  MeResolver,
  RoleService,
  RoleResolver,
  CloudScopeService,
  CloudScopeResolver,
  ClusterService,
  CredentialRevocations,
  ClusterResolver,
  DomainEvents,
  RuleCatalogResolver,
  PolicyWriter,
  PolicyService,
  ExemptionService,
  PolicyResolver,
  EffectivePoliciesService,
  EffectivePoliciesResolver,
  PolicyAsCodeService,
  PolicyAsCodeResolver,
  BundleNotifications,
  AgentCredentialCheck,
  AgentClusterState,
  BundlePoll,
  BundleRolloutService,
  BundleRolloutResolver,
  ...INVENTORY_PROVIDERS,
  ...RUNNING_PROVIDERS,
  ...ALERT_RULE_PROVIDERS,
];

/** Vulnerability gating: CI upload tokens, signed scan artifacts, agent lookups. */
const SCAN_PROVIDERS = [
  ArtifactSigningKeys,
  ScanUploadGuard,
  ScanUploadTokenService,
  ScanUploadTokenResolver,
  ScanReportIngestor,
  ScanArtifactService,
  ScanArtifactResolver,
  ScanArtifactLookup,
  ScanArtifactHistoryResolver,
];

/** Alerts (issue #27): destinations, the delivery log, the dispatcher onto the `alerts` queue. */
const ALERT_PROVIDERS = [
  AlertDispatcher,
  AlertDestinationService,
  AlertDestinationResolver,
  AlertDeliveryService,
  AlertDeliveryResolver,
];

@Module({})
export class ApiModule implements NestModule {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: ApiMetrics,
  ) {}

  static forRoot(config: AppConfig, options: ApiModuleOptions = {}): DynamicModule {
    const logger = createLogger(config.logLevel, 'portcullis-api');
    // built here, not by injection: the GraphQL options below count operations into it
    const metrics = new ApiMetrics();
    return {
      module: ApiModule,
      imports: [
        PlatformModule.forRoot(config, { clock: options.clock, logger }),
        AuthModule.register(authOptionsFrom(config)),
        // production keeps the schema in memory; development rewrites the committed schema.gql
        GraphQLModule.forRoot(
          graphqlOptions(
            config,
            logger,
            metrics,
            (options.schemaFile ?? (config.env === 'development' ? SCHEMA_FILE : false)) || true,
          ),
        ),
      ],
      controllers: [
        HealthController,
        JwksController,
        AgentBundleController,
        AgentStatusController,
        ScanReportsController,
        ScanArtifactLookupController,
        ...INVENTORY_CONTROLLERS,
        ...RUNNING_CONTROLLERS,
      ],
      providers: [
        { provide: ApiMetrics, useValue: metrics },
        DbGates,
        SqlPool,
        // order matters: the token is validated before the tenant and roles are resolved
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: APP_GUARD, useClass: TenancyGuard },
        // agent endpoints are @Public for users and authenticated by the cluster credential instead
        { provide: APP_GUARD, useClass: AgentAuthGuard },
        ...DOMAIN_PROVIDERS,
        ...SCAN_PROVIDERS,
        ...ALERT_PROVIDERS,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(requestLogging(this.logger, this.metrics)).forRoutes('*path');
  }
}
