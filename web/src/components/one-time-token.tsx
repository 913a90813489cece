import { QrCode } from './qr-code';

/** Shows a one-time enrollment token once, as text and as a QR code for the device's installer. */
export function OneTimeToken({
  deviceId,
  token,
  expiresAt,
}: {
  deviceId: string;
  token: string;
  expiresAt?: string;
}) {
  const payload = JSON.stringify({ v: 1, est: `${location.origin}/.well-known/est`, deviceId, token });
  return (
    <section className="panel token" aria-labelledby="token-title">
      <h2 id="token-title">Enrollment token for {deviceId}</h2>
      <p>
        Shown <strong>once</strong>: copy it or scan the code on the device now. Pulsegate keeps only its
        hash.
        {expiresAt ? ` It expires ${new Date(expiresAt).toLocaleString()}.` : ''}
      </p>
      <output className="secret" data-testid="enrollment-token">
        {token}
      </output>
      <QrCode text={payload} label={`QR code with the enrollment token for ${deviceId}`} />
    </section>
  );
}
