import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';

/** What native enforcement made of one policy in one cluster; PENDING until the agent reports the latest revision. */
export enum NativeEnforcementState {
  ENFORCED = 'ENFORCED',
  PARTIAL = 'PARTIAL',
  NOT_COMPILED = 'NOT_COMPILED',
  APPLY_FAILED = 'APPLY_FAILED',
  PENDING = 'PENDING',
}

registerEnumType(NativeEnforcementState, {
  name: 'NativeEnforcementState',
  description: "A policy's ValidatingAdmissionPolicy objects in one cluster, as its agent last reported them.",
  valuesMap: {
    ENFORCED: { description: 'Every rule is compiled and applied: kube-apiserver enforces the policy.' },
    PARTIAL: { description: 'Applied, but some rules or patterns could not be expressed (see unsupported).' },
    NOT_COMPILED: { description: 'Nothing could be expressed natively (see reason); only the webhook enforces it.' },
    APPLY_FAILED: { description: 'The Kubernetes API refused the objects (see reason).' },
    PENDING: { description: 'The agent has not reported this policy for the latest bundle revision yet.' },
  },
});

@ObjectType({ description: 'Something of a policy the compiler could not express as ValidatingAdmissionPolicy.' })
export class NativeUnsupported {
  @Field(() => String, {
    nullable: true,
    description: 'The rule, when it is one rule (not the scope or an exemption).',
  })
  rule!: string | null;

  @Field()
  what!: string;

  @Field()
  reason!: string;
}

@ObjectType({
  description:
    "kube-apiserver's native checks of one rule (apiserver_validating_admission_policy_check_total), summed over " +
    'the reports since the cluster went native: requests denied natively never reach the webhook or the inventory.',
})
export class NativeRuleChecks {
  @Field()
  rule!: string;

  @Field(() => Int, { description: 'Requests denied (Block). Saturates at 2147483647.' })
  deniedCount!: number;

  @Field(() => Int, { description: 'Requests answered with a warning (Audit). Saturates at 2147483647.' })
  warnedCount!: number;

  @Field(() => Int, { description: 'Audit annotations (Audit). Saturates at 2147483647.' })
  auditedCount!: number;
}

@ObjectType({ description: 'One policy enforced natively (ValidatingAdmissionPolicy) in one cluster.' })
export class NativePolicyState {
  @Field(() => ID)
  policyId!: string;

  @Field()
  policyName!: string;

  @Field(() => NativeEnforcementState)
  state!: NativeEnforcementState;

  @Field(() => String, { nullable: true, description: 'Why NOT_COMPILED, APPLY_FAILED, PARTIAL or PENDING.' })
  reason!: string | null;

  @Field(() => Int, { description: 'ValidatingAdmissionPolicy and binding objects applied for the policy.' })
  objects!: number;

  @Field(() => Int, { nullable: true, description: 'Bundle revision the reported state was compiled from.' })
  revision!: number | null;

  @Field(() => Date, {
    nullable: true,
    description: 'Since when the agent reports this state (null while PENDING).',
  })
  since!: Date | null;

  @Field(() => [NativeUnsupported])
  unsupported!: NativeUnsupported[];

  @Field(() => Int, {
    description: 'Requests kube-apiserver denied for this policy, all rules. Saturates at 2147483647.',
  })
  deniedCount!: number;

  @Field(() => Int, { description: 'Requests kube-apiserver warned about, all rules. Saturates at 2147483647.' })
  warnedCount!: number;

  @Field(() => Int, { description: 'Audit annotations kube-apiserver added, all rules. Saturates at 2147483647.' })
  auditedCount!: number;

  @Field(() => [NativeRuleChecks], { description: 'The counts per rule (rules with at least one check).' })
  rules!: NativeRuleChecks[];
}
