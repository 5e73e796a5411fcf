/**
 * `Link`: an `<a>` that moves within the dashboard without reloading (a
 * modified click, e.g. to open a new tab, is left to the browser).
 *
 * @module
 */
import type { ComponentChildren } from "preact";
import { navigate } from "../router.ts";

export interface LinkProps {
  href: string;
  children: ComponentChildren;
  class?: string;
  title?: string;
  /** Marks the link as the current page (navigation). */
  current?: boolean;
}

export function Link(props: LinkProps) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a
      href={props.href}
      class={props.class}
      title={props.title}
      aria-current={props.current ? "page" : undefined}
      onClick={onClick}
    >
      {props.children}
    </a>
  );
}
