import { RunningWorkloadsResolver } from './running.resolver';
import { RunningWorkloadsService } from './running-workloads.service';
import { WorkloadReportIngestor } from './workload-report-ingestor';
import { WorkloadReportsController } from './workload-reports.controller';

/** The background audit's part of the API (issue #25), composed by ApiModule. */
export const RUNNING_CONTROLLERS = [WorkloadReportsController];
export const RUNNING_PROVIDERS = [WorkloadReportIngestor, RunningWorkloadsService, RunningWorkloadsResolver];
