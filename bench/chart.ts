/**
 * The README's performance chart: Switchboard beside the bare proxy (both measured in the same
 * run) and the Apollo Server setups of issue #9's table (reference values from the machine the
 * issue was measured on, not re-measured here). CPU is drawn as a multiple of the bare proxy's in
 * the same measurement, because microseconds from two machines do not compare.
 */

export interface ChartInput {
  ratio: number;
  cpu: number;
  baselineCpu: number;
  label: string;
}

/** The bare proxy's CPU per request on the machine where the references were measured. */
const REFERENCE_PROXY_CPU = 70;

const REFERENCES = [
  { name: 'Apollo Server 5 executeHTTPGraphQLRequest + undici', ratio: 0.54, cpu: 130 },
  { name: 'Apollo Server 5 + undici, cache-control off', ratio: 0.45, cpu: 160 },
  { name: 'Apollo Server 5 + RESTDataSource', ratio: 0.21, cpu: 340 },
  { name: 'Apollo Server 5 + global fetch', ratio: 0.1, cpu: 670 },
];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function chartSvg(input: ChartInput): string {
  const rows = [
    { name: 'bare node:http + undici (ceiling)', ratio: 1, cpu: 1, kind: 'base' },
    { name: `Switchboard (${input.label})`, ratio: input.ratio, cpu: input.cpu / input.baselineCpu, kind: 'ours' },
    ...REFERENCES.map((r) => ({ ...r, cpu: r.cpu / REFERENCE_PROXY_CPU, kind: 'ref' })),
  ];
  const width = 900;
  const rowH = 34;
  const top = 56;
  const labelW = 330;
  const panelW = 240;
  const gap = 40;
  const height = top + rows.length * rowH + 40;
  const maxCpu = Math.max(...rows.map((r) => r.cpu)) * 1.1;
  const color = (kind: string) => (kind === 'ours' ? '#2f7d32' : kind === 'base' ? '#555' : '#9aa7b8');
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowH;
      const rw = Math.max(1, r.ratio * panelW);
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
<text x="${labelW}" y="42" font-size="11" fill="#666">workload A: one nuveqUser per request, 50 connections, local upstream</text>
${bars}
<text x="10" y="${height - 12}" font-size="11" fill="#666">Grey: Apollo Server setups from issue #9's table (measured on the issue's machine, bare proxy ${REFERENCE_PROXY_CPU} µs there). Dark: this run (bare proxy ${Math.round(input.baselineCpu)} µs, Switchboard ${Math.round(input.cpu)} µs).</text>
</svg>
`;
}
