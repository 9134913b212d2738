// The baseline of the webhook bench: a bare Node HTTPS server that reads each
// AdmissionReview, parses it for its uid and answers "allowed". Run as its own process.
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

const server = https.createServer(
  { cert: fs.readFileSync(process.env['CERT_FILE']!), key: fs.readFileSync(process.env['KEY_FILE']!) },
  (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        apiVersion: string;
        request: { uid: string };
      };
      const body = JSON.stringify({
        apiVersion: review.apiVersion,
        kind: 'AdmissionReview',
        response: { uid: review.request.uid, allowed: true },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  },
);
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`),
);
