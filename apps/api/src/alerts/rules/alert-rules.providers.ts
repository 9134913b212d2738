import type { Provider } from '@nestjs/common';
import { AlertIngestEvaluator } from './alert-ingest-evaluator';
import { AlertRuleCache } from './alert-rule-cache';
import { AlertRuleResolver } from './alert-rule.resolver';
import { AlertRuleService } from './alert-rule.service';

/** Alert rules' part of the API (issue #27), composed by ApiModule. */
export const ALERT_RULE_PROVIDERS: Provider[] = [
  AlertRuleCache,
  AlertIngestEvaluator,
  AlertRuleService,
  AlertRuleResolver,
];
