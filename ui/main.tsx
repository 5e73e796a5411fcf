/**
 * The dashboard's entry point (bundled by ui/build.ts): creates the store,
 * opens the one event stream, asks who we are, and renders the app.
 *
 * @module
 */
import { render } from "preact";
import { getOverview, getWhoami } from "./api.ts";
import { App } from "./App.tsx";
import { connectEvents } from "./events.ts";
import { followHistory } from "./router.ts";
import { applyOverview, createDashboardState, DashboardContext, startClock } from "./state.ts";

const state = createDashboardState();
followHistory();
startClock(state);
connectEvents(state);

getWhoami().then((who) => {
  state.role.value = who.role;
}, (error) => console.warn(`whoami: ${error instanceof Error ? error.message : error}`));

// The server's clock (for countdowns) and counts before the stream's first event.
const asked = Date.now();
getOverview().then((overview) => {
  // The reply's time is somewhere in the round trip: take the middle.
  applyOverview(state, overview, (asked + Date.now()) / 2);
}, (error) => console.warn(`overview: ${error instanceof Error ? error.message : error}`));

const root = document.getElementById("app");
if (!root) throw new Error("the page has no #app element");
root.replaceChildren();
render(
  <DashboardContext.Provider value={state}>
    <App />
  </DashboardContext.Provider>,
  root,
);
document.body.dataset.ready = "1";
