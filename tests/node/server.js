// A plain Node.js HTTP server instrumented with the official OpenTelemetry JavaScript SDK, exporting
// its server spans over OTLP/HTTP to reqlog: the client tests/test_node_client.py drives.
//
//   node server.js <proto|json> <traces endpoint URL> <ingest token>
//
// It listens on a free port of the default host (`::`, so IPv4 clients are reported as
// `::ffff:127.0.0.1`) and prints {"port": N} on stdout. On SIGTERM it stops accepting requests,
// shuts the SDK down (which exports every span still queued), prints {"shutdown": "ok"} and exits 0.
// Every setting is an argument: the SDK's own OTEL_* variables are left unset by the test.
'use strict';

const { diag, DiagConsoleLogger, DiagLogLevel, trace, SpanStatusCode } = require('@opentelemetry/api');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');

const [protocol, url, token] = process.argv.slice(2);
const { OTLPTraceExporter } = require(
  protocol === 'json' ? '@opentelemetry/exporter-trace-otlp-http' : '@opentelemetry/exporter-trace-otlp-proto',
);

diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN); // export failures go to stderr
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': `node-shop-${protocol}` }),
  // The stock batch processor with its defaults (512 spans a batch, a queue of 2048, 5 s).
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url, headers: { Authorization: `Token ${token}` } }))],
});
provider.register(); // the W3C trace-context propagator, so a test's traceparent names the trace
registerInstrumentations({
  tracerProvider: provider,
  instrumentations: [
    new HttpInstrumentation({
      headersToSpanAttributes: {
        server: {
          requestHeaders: ['user-agent', 'content-type', 'x-request-id', 'authorization'],
          responseHeaders: ['content-type', 'x-served-by'],
        },
      },
    }),
  ],
});

// Required after the instrumentation is registered, so that it is the patched module.
const http = require('http');

// Headers set with setHeader, not passed to writeHead: the instrumentation reads response headers
// with getHeader, which does not see those given to writeHead only.
function send(response, status, body) {
  response.setHeader('Content-Type', 'application/json');
  response.setHeader('X-Served-By', 'node');
  response.statusCode = status;
  response.end(JSON.stringify(body));
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const path = request.url.split('?')[0];
    if (path === '/boom') {
      // What an error handler does: record the exception on the server span, answer 500.
      const error = new TypeError('the oven is cold');
      const span = trace.getActiveSpan();
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      send(response, 500, { detail: 'A server error occurred.' });
    } else if (path.startsWith('/missing')) {
      send(response, 404, { detail: 'Not found.' });
    } else if (request.method === 'POST') {
      send(response, 201, { received: Buffer.concat(chunks).length });
    } else if (request.method === 'PURGE') {
      response.setHeader('X-Served-By', 'node');
      response.statusCode = 204;
      response.end();
    } else {
      send(response, 200, { path });
    }
  });
});

server.listen(0, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  provider.shutdown().then(
    () => {
      process.stdout.write(JSON.stringify({ shutdown: 'ok' }) + '\n');
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`shutdown failed: ${error}\n`);
      process.exit(1);
    },
  );
});
