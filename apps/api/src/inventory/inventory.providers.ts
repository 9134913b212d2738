import { AdmissionEventIngestor } from './admission-event-ingestor';
import { AdmissionEventsController } from './admission-events.controller';

/** The admission inventory's part of the API, composed by ApiModule. */
export const INVENTORY_CONTROLLERS = [AdmissionEventsController];
export const INVENTORY_PROVIDERS = [AdmissionEventIngestor];
