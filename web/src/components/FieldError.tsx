// A form field's error under it, tied to the input by aria-describedby; refusals from the server
// are announced (role=alert), local hints are not.

export function FieldError({ id, text, testId, alert }: { id: string; text: string | undefined; testId: string; alert?: boolean }) {
  if (!text) return null;
  return (
    <small id={id} className="form-error" role={alert ? 'alert' : undefined} data-testid={testId}>
      {text}
    </small>
  );
}
