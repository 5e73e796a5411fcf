/**
 * `ErrorNote`: the API's message for a failed load or action, announced to
 * screen readers as it appears.
 *
 * @module
 */
export function ErrorNote(props: { message: string | undefined; onDismiss?: () => void }) {
  if (!props.message) return null;
  return (
    <div class="error-note" role="alert">
      <span>{props.message}</span>
      {props.onDismiss && <button type="button" class="link-button" onClick={props.onDismiss}>Dismiss</button>}
    </div>
  );
}
