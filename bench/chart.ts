/**
 * The README's performance chart, from one run only: Switchboard and the Apollo Server setups
 * beside the bare proxy, all measured in the same interleaved rounds of workload A. Throughput is
 * drawn as a share of the bare proxy's, CPU per request as a multiple of its, each taken within a
 * round (the machine drifts between rounds) and the median over rounds drawn.
 */

/** A server's figures as multiples of the bare proxy's in the same round (median over the rounds). */
export interface ChartRow {
  name: string;
  ours: boolean;
  ratio: number;
  cpuRatio: number;
}

export interface ChartInput {
  label: string;
  baseline: { rps: number; cpuUsPerRequest: number };
  rows: ChartRow[];
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function chartSvg(input: ChartInput): string {
  const rows = [
    { name: 'bare node:http + undici (ceiling)', ratio: 1, cpu: 1, kind: 'base' },
    ...input.rows.map((r) => ({ name: r.name, ratio: r.ratio, cpu: r.cpuRatio, kind: r.ours ? 'ours' : 'other' })),
  ];
  const width = 960;
  const rowH = 34;
  const top = 56;
  const labelW = 390;
  const panelW = 240;
  const gap = 40;
  const height = top + rows.length * rowH + 40;
  const maxCpu = Math.max(...rows.map((r) => r.cpu)) * 1.1;
  const maxRatio = Math.max(1, ...rows.map((r) => r.ratio));
  const color = (kind: string) => (kind === 'ours' ? '#2f7d32' : kind === 'base' ? '#555' : '#9aa7b8');
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowH;
      const rw = Math.max(1, (r.ratio / maxRatio) * panelW);
      const cw = Math.max(1, (r.cpu / maxCpu) * panelW);
      const x2 = labelW + panelW + gap;
      return [
        `<text x="${labelW - 10}" y="${y + 20}" text-anchor="end" font-size="13" font-weight="${r.kind === 'ours' ? 'bold' : 'normal'}">${escape(r.name)}</text>`,
        `<rect x="${labelW}" y="${y + 6}" width="${rw.toFixed(1)}" height="20" fill="${color(r.kind)}"/>`,
        `<text x="${labelW + rw + 6}" y="${y + 21}" font-size="12">${r.ratio.toFixed(2)}</text>`,
        `<rect x="${x2}" y="${y + 6}" width="${cw.toFixed(1)}" height="20" fill="${color(r.kind)}"/>`,
        `<text x="${x2 + cw + 6}" y="${y + 21}" font-size="12">${r.cpu.toFixed(1)}×</text>`,
      ].join('\n');
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${labelW}" y="24" font-size="15" font-weight="bold">req/s ÷ bare proxy (higher is better)</text>
<text x="${labelW + panelW + gap}" y="24" font-size="15" font-weight="bold">server CPU per request ÷ bare proxy's (lower is better)</text>
<text x="${labelW}" y="42" font-size="11" fill="#666">workload A: one nuveqUser per request, 50 connections, local upstream; each bar: the median over rounds of its ratio to the proxy in that round</text>
${bars}
<text x="10" y="${height - 12}" font-size="11" fill="#666">Run "${escape(input.label)}": bare proxy ${Math.round(input.baseline.rps)} req/s, ${Math.round(input.baseline.cpuUsPerRequest)} µs CPU per request. All servers pinned to the same core, interleaved in rounds.</text>
</svg>
`;
}
