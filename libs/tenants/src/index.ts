export { TenantOnboarding, OnboardingError, DEFAULT_POLICIES, defaultPolicyRules } from './onboarding';
export type { TenantSummary } from './onboarding';
