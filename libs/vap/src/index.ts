// libs/vap: misconfiguration policies compiled to Kubernetes ValidatingAdmissionPolicy and
// ValidatingAdmissionPolicyBinding objects (admissionregistration.k8s.io/v1), enforced inside
// kube-apiserver with no hop to the agent. Pure: no framework, no I/O.
export {
  compileVap,
  VAP_API_VERSION,
  LABEL_POLICY_ID,
  LABEL_RULE,
  ANNOTATION_POLICY_ID,
  ANNOTATION_POLICY_NAME,
} from './compile';
export type { VapCompileOptions, VapCompileResult, VapPolicyOutcome, VapUnsupported } from './compile';
export { COMPILABLE_RULES } from './rules';
export { objectName } from './names';
