import qrcode from 'qrcode-generator';

/** A QR code drawn as one SVG path (no canvas, no data: URL, nothing inline for the CSP to refuse). */
export function QrCode({ text, label }: { text: string; label: string }) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  let d = '';
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + 4},${r + 4}h1v1h-1z`;
  return (
    <svg
      className="qr"
      viewBox={`0 0 ${n + 8} ${n + 8}`}
      role="img"
      aria-label={label}
      shapeRendering="crispEdges"
    >
      <rect width={n + 8} height={n + 8} className="qr-bg" />
      <path d={d} className="qr-fg" />
    </svg>
  );
}
