// A virtualised list: only the rows in view (plus a few) are in the DOM, so 10,000 items scroll
// and filter smoothly. Row positions are set through the CSSOM (allowed by the CSP).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function VirtualList<T>(props: { items: T[]; rowHeight: number; render: (item: T, index: number) => ComponentChildren; label: string; onKey?: (e: KeyboardEvent) => void; selectedIndex?: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    // A new filter starts at the top.
    if (ref.current && scroll > props.items.length * props.rowHeight) {
      ref.current.scrollTop = 0;
      setScroll(0);
    }
  }, [props.items.length]);
  useEffect(() => {
    // Keep the selected row in view (keyboard navigation).
    const el = ref.current;
    const i = props.selectedIndex ?? -1;
    if (!el || i < 0) return;
    const top = i * props.rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + props.rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + props.rowHeight - el.clientHeight;
  }, [props.selectedIndex]);
  const overscan = 6;
  const first = Math.max(0, Math.floor(scroll / props.rowHeight) - overscan);
  const last = Math.min(props.items.length, Math.ceil((scroll + height) / props.rowHeight) + overscan);
  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div class="vrow" key={i} style={{ transform: `translateY(${i * props.rowHeight}px)`, height: `${props.rowHeight}px` }}>
        {props.render(props.items[i], i)}
      </div>,
    );
  }
  return (
    <div class="vlist" ref={ref} role="listbox" aria-label={props.label} tabIndex={0} onScroll={(e) => setScroll(e.currentTarget.scrollTop)} onKeyDown={props.onKey}>
      <div class="vspacer" style={{ height: `${props.items.length * props.rowHeight}px` }}>
        {rows}
      </div>
    </div>
  );
}
