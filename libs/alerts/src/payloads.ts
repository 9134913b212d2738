import type { Alert, DestinationKind } from './alert';

/** The request body each destination kind receives for one alert (SIEM: one line of a batch). */

/** Generic webhook: the Standard Webhooks envelope `{type, timestamp, data}`; data is the alert. */
export function webhookBody(alert: Alert, sentAt: Date): string {
  return JSON.stringify({ type: `alert.${alert.kind.toLowerCase()}`, timestamp: sentAt.toISOString(), data: alert });
}

const SEVERITY_MARK: Record<Alert['severity'], string> = {
  CRITICAL: ':red_circle:',
  HIGH: ':large_orange_circle:',
  MEDIUM: ':large_yellow_circle:',
  LOW: ':large_blue_circle:',
  INFO: ':white_circle:',
};

/** Slack escapes only these three in mrkdwn text; user text must not become a link or mention. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function facts(alert: Alert): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['Kind', alert.kind],
    ['Severity', alert.severity],
  ];
  if (alert.cluster) out.push(['Cluster', alert.cluster.name]);
  if (alert.namespace) out.push(['Namespace', alert.namespace]);
  if (alert.workload) out.push(['Workload', `${alert.workload.kind}/${alert.workload.name}`]);
  if (alert.policy) out.push(['Policy', `${alert.policy.name} (${alert.policy.action})`]);
  if (alert.rule) out.push(['Rule', alert.rule]);
  if (alert.count > 1) out.push(['Occurrences', String(alert.count)]);
  out.push(['Occurred', alert.occurredAt]);
  if (alert.windowEnd) out.push(['Until', alert.windowEnd]);
  out.push(['Alert id', alert.id]);
  return out;
}

/** Slack incoming webhook: `text` (notifications, fallback) and Block Kit blocks. */
export function slackBody(alert: Alert): string {
  const title = `${SEVERITY_MARK[alert.severity]} ${slackEscape(alert.title)}`;
  return JSON.stringify({
    text: `[${alert.severity}] ${slackEscape(alert.title)}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: alert.title.slice(0, 150), emoji: false } },
      { type: 'section', text: { type: 'mrkdwn', text: `${title}\n${slackEscape(alert.summary).slice(0, 2900)}` } },
      {
        type: 'section',
        fields: facts(alert)
          .slice(0, 10)
          .map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${slackEscape(v).slice(0, 1900)}` })),
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Portcullis alert \`${alert.id}\`` }] },
    ],
  });
}

/** Teams workflow webhook: a message with one Adaptive Card attachment. */
export function teamsBody(alert: Alert): string {
  return JSON.stringify({
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              text: alert.title,
              weight: 'Bolder',
              size: 'Medium',
              wrap: true,
              color: alert.severity === 'CRITICAL' || alert.severity === 'HIGH' ? 'Attention' : 'Default',
            },
            { type: 'TextBlock', text: alert.summary, wrap: true },
            { type: 'FactSet', facts: facts(alert).map(([title, value]) => ({ title, value })) },
          ],
        },
      },
    ],
  });
}

/** One CloudEvents 1.0 structured event (JSON format) per alert. */
export function cloudEvent(alert: Alert): Record<string, unknown> {
  const subject = alert.cluster
    ? [
        alert.cluster.name,
        alert.namespace,
        alert.workload ? `${alert.workload.kind}/${alert.workload.name}` : undefined,
      ]
        .filter((x) => x !== undefined)
        .join('/')
    : alert.policy
      ? `policy/${alert.policy.name}`
      : undefined;
  return {
    specversion: '1.0',
    id: alert.id,
    source: `/portcullis/tenants/${alert.tenantId}`,
    type: `dev.portcullis.alert.${alert.kind.toLowerCase()}`,
    time: alert.occurredAt,
    ...(subject ? { subject } : {}),
    datacontenttype: 'application/json',
    data: alert,
  };
}

/** A SIEM batch: newline-delimited JSON, one CloudEvent per line. */
export function siemBatchBody(alerts: readonly Alert[]): string {
  return alerts.map((a) => JSON.stringify(cloudEvent(a))).join('\n') + '\n';
}

export const CONTENT_TYPES: Record<DestinationKind, string> = {
  WEBHOOK: 'application/json',
  SLACK: 'application/json',
  TEAMS: 'application/json',
  SIEM: 'application/x-ndjson',
};
