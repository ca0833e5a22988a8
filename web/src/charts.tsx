import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Axis numbers short enough for the axis: 1,500,000 → 1.5M. */
function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

/**
 * One line chart: x values (seconds since the epoch when `time`), y values,
 * redrawn when the data changes. Its element carries the number of points in
 * `data-points`.
 */
export function LineChart(props: { title: string; x: number[]; y: number[]; yLabel: string; time: boolean; testId: string; points?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      title: props.title,
      width: Math.max(280, el.clientWidth || 420),
      height: 180,
      scales: { x: { time: props.time } },
      axes: [{}, { label: props.yLabel, size: 60, values: (_u, splits) => splits.map(compact) }],
      legend: { show: false },
      series: [{}, { stroke: '#d08a00', width: 2, fill: 'rgba(255, 200, 60, 0.15)', points: { show: props.points ?? false, size: 6 } }],
    };
    plot.current = new uPlot(opts, [props.x, props.y], el);
    const resize = (): void => plot.current?.setSize({ width: Math.max(280, el.clientWidth), height: 180 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    plot.current?.setData([props.x, props.y]);
  }, [props.x, props.y]);
  return <div class="chart" data-testid={props.testId} data-points={props.x.length} ref={box} />;
}
