import { Args, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { ConnectionType } from '../graphql/connection';
import { IdArg } from '../graphql/id-arg';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { ScanArtifactService } from './scan-artifact.service';
import { ScanUploadTokenService } from './scan-upload-token.service';
import {
  CreateScanUploadTokenArgs,
  FindingsArgs,
  ScanArtifact,
  ScanArtifactsArgs,
  ScanFindingView,
  ScanUploadToken,
  ScanUploadTokensArgs,
  ScanUploadTokenWithSecret,
} from './scan.types';

const ScanArtifactConnection = ConnectionType(ScanArtifact, 'ScanArtifact');
const ScanUploadTokenConnection = ConnectionType(ScanUploadToken, 'ScanUploadToken');

@Resolver(() => ScanArtifact)
export class ScanArtifactResolver {
  constructor(private readonly service: ScanArtifactService) {}

  @Access('read')
  @Query(() => ScanArtifactConnection, { description: 'Scan artifacts of the tenant, newest upload first.' })
  scanArtifacts(@CurrentPrincipal() principal: Principal, @Args() args: ScanArtifactsArgs) {
    return this.service.list(principal, args);
  }

  @ResolveField(() => [ScanFindingView], { description: 'The findings, worst first.' })
  findings(@CurrentPrincipal() principal: Principal, @Parent() artifact: ScanArtifact, @Args() args: FindingsArgs) {
    return this.service.findings(principal, artifact.id, args.first ?? 50);
  }
}

@Resolver(() => ScanUploadToken)
export class ScanUploadTokenResolver {
  constructor(private readonly service: ScanUploadTokenService) {}

  @Access('manage')
  @Query(() => ScanUploadTokenConnection, {
    description: 'CI scan upload tokens (OWNER or SECURITY_ADMIN at tenant level).',
  })
  scanUploadTokens(@CurrentPrincipal() principal: Principal, @Args() args: ScanUploadTokensArgs) {
    return this.service.list(principal, args);
  }

  @Access('manage')
  @Mutation(() => ScanUploadTokenWithSecret, {
    description: 'Creates a CI token for POST /api/v1/scan-reports and returns it, once.',
  })
  createScanUploadToken(@CurrentPrincipal() principal: Principal, @Args() args: CreateScanUploadTokenArgs) {
    return this.service.create(principal, args.name);
  }

  @Access('manage')
  @Mutation(() => ScanUploadToken, { description: 'Revokes a CI token; uploads with it are refused from now on.' })
  revokeScanUploadToken(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.service.revoke(principal, id);
  }
}
