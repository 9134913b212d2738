export { startKubeApi } from './server';
export type {
  KubeApiOptions,
  KubeApiStandIn,
  KubeObject,
  ServedRequest,
  StatusAnswer,
  WriteRequest,
  WriteVerb,
} from './server';
