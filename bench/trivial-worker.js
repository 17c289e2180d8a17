// The baseline for `npm run bench`: the least a Worker can do with a Tracking API batch — parse
// the JSON body and answer like Segment. Tessera's throughput is reported relative to this.
export default {
  async fetch(request) {
    if (request.method !== 'POST') return new Response('ok');
    const body = await request.json();
    if (!Array.isArray(body.batch)) return Response.json({ success: false }, { status: 400 });
    return Response.json({ success: true });
  },
};
