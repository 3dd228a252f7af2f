// An upstream answer into its filter: what stream.pipeline does for two streams, without its cost. Node 20's
// pipeline makes an AbortController per call and aborts it at the end, which builds a DOMException with a stack
// trace: ~60 µs of CPU per list request, as much as the rest of the request's HTTP work (--cpu-prof of
// GET /containers/json, 100 containers, bench/scenarios/http.ts).
import type { Readable, Transform } from 'node:stream';

/**
 * `source.pipe(filter)`, with failure passed both ways: an error or a cut in `source` destroys `filter` with an
 * error (so its reader never sees an end), and `filter` closing early (an error, or its reader gone) destroys
 * `source` (so the upstream request is aborted). Errors are for the filter's reader to report.
 */
export function pipeInto(source: Readable, filter: Transform): void {
  source.once('error', (error: Error) => filter.destroy(error));
  source.once('close', () => {
    if (!source.readableEnded) filter.destroy(new Error('the upstream answer was cut short'));
  });
  filter.once('close', () => {
    if (!source.readableEnded) source.destroy();
  });
  // Whoever reads `filter` reports its errors; this keeps one without a reader yet from being unhandled.
  filter.on('error', () => undefined);
  source.pipe(filter);
}
