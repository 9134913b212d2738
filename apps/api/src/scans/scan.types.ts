import { ArgsType, Field, Float, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { PageArgs } from '../graphql/connection';

@ObjectType({
  description: 'A CI credential that uploads scan reports (POST /api/v1/scan-reports) and does nothing else.',
})
export class ScanUploadToken {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field()
  createdAt!: Date;

  @Field({ description: 'Object id of who created it.' })
  createdBy!: string;

  @Field(() => Date, { nullable: true, description: 'Last upload with it (to the minute).' })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => String, { nullable: true })
  revokedBy!: string | null;
}

@ObjectType({ description: 'A new upload token with its secret. The token is shown once and stored only as a hash.' })
export class ScanUploadTokenWithSecret {
  @Field(() => ScanUploadToken)
  scanUploadToken!: ScanUploadToken;

  @Field({ description: 'The credential (pcs_...): store it in the pipeline secret now, it cannot be shown again.' })
  token!: string;
}

@ArgsType()
export class CreateScanUploadTokenArgs {
  @Field({ description: 'What the token is for, e.g. the pipeline: 1-100 characters.' })
  @IsString()
  @Length(1, 100, { message: 'name must be 1-100 characters' })
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;
}

@ArgsType()
export class ScanUploadTokensArgs extends PageArgs {
  @Field({ nullable: true, defaultValue: false, description: 'Also list revoked tokens.' })
  @IsOptional()
  @IsBoolean()
  includeRevoked?: boolean;
}

@ObjectType()
export class Scanner {
  @Field()
  name!: string;

  @Field()
  version!: string;
}

@ObjectType({
  description:
    'Distinct vulnerability ids by the worst severity each is reported with (a CVE in two packages counts once).',
})
export class VulnerabilityCounts {
  @Field(() => Int)
  critical!: number;

  @Field(() => Int)
  high!: number;

  @Field(() => Int)
  medium!: number;

  @Field(() => Int)
  low!: number;

  @Field(() => Int)
  unknown!: number;
}

@ObjectType({ description: 'One vulnerability in one package of the image.' })
export class ScanFindingView {
  @Field({ description: 'CVE-..., GHSA-..., as the scanner names it.' })
  id!: string;

  @Field({ description: 'CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN.' })
  severity!: string;

  @Field(() => Float, { nullable: true })
  cvss!: number | null;

  @Field()
  packageName!: string;

  @Field()
  installedVersion!: string;

  @Field(() => String, { nullable: true, description: 'null when no fixed version exists.' })
  fixedVersion!: string | null;
}

@ObjectType({ description: 'The signed, normalised vulnerability summary of one image, from one uploaded report.' })
export class ScanArtifact {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'registry/path, e.g. docker.io/library/nginx.' })
  repository!: string;

  @Field(() => [String])
  tags!: string[];

  @Field(() => String, {
    nullable: true,
    description: 'The manifest digest pods name as image@sha256:...; null for a tag-bound artifact.',
  })
  repoDigest!: string | null;

  @Field(() => String, { nullable: true })
  imageId!: string | null;

  @Field({
    description: 'true: the report had no repo digest, so the artifact names the image by tag only (tags move).',
  })
  tagBound!: boolean;

  @Field({ description: 'trivy, grype or cyclonedx.' })
  format!: string;

  @Field(() => Scanner)
  scanner!: Scanner;

  @Field({ description: "The report's scan time, else when it was received." })
  scannedAt!: Date;

  @Field()
  receivedAt!: Date;

  @Field(() => VulnerabilityCounts)
  vulnerabilities!: VulnerabilityCounts;

  @Field(() => Int, { description: 'Findings (vulnerability x package) in the artifact.' })
  findingsCount!: number;

  @Field(() => String, {
    nullable: true,
    description: 'Name of the upload token it came with (null once the token is deleted).',
  })
  uploadedWith!: string | null;
}

@InputType()
export class ScanArtifactFilter {
  @Field({
    nullable: true,
    description: 'Exact repository, normalised (docker.io/library/nginx), or a substring of it with contains: true.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  repository?: string;

  @Field({ nullable: true, defaultValue: false })
  @IsOptional()
  @IsBoolean()
  repositoryContains?: boolean;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @Matches(/^\w[\w.-]{0,127}$/, { message: 'tag must be an image tag' })
  tag?: string;

  @Field({ nullable: true, description: 'sha256:<64 hex>' })
  @IsOptional()
  @IsString()
  @Matches(/^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/, { message: 'digest must be sha256:<64 lowercase hex>' })
  digest?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsBoolean()
  tagBound?: boolean;
}

@ArgsType()
export class ScanArtifactsArgs extends PageArgs {
  @Field(() => ScanArtifactFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => ScanArtifactFilter)
  filter?: ScanArtifactFilter;
}

@ArgsType()
export class FindingsArgs {
  @Field(() => Int, { nullable: true, defaultValue: 50, description: 'Worst first: severity, then CVSS. 1-1000.' })
  @IsOptional()
  @Min(1)
  @Max(1000)
  first?: number;
}
