// Live upload status: the server pushes each change as a Server-Sent Event (uploads/live.py);
// the page updates in place. If the stream cannot be opened (refused, or no EventSource),
// the page polls the JSON API instead. Without JavaScript, pages show the status of when
// they were loaded.
(function () {
  "use strict";

  const POLL_INTERVAL = 3000; // ms between polls when there is no stream
  const STREAM_RETRY_AFTER = 60000; // ms before a page that fell back to polling tries the stream again
  const HIDDEN_CLOSE_AFTER = 30000; // ms a hidden tab keeps its stream (browsers allow few connections per site)
  const UNFINISHED = new Set(["pending", "processing"]);

  function announce(text) {
    const region = document.querySelector("[data-announcer]");
    if (!region) return;
    region.textContent = "";
    // A change of content after a pause is what screen readers announce reliably.
    window.setTimeout(() => { region.textContent = text; }, 100);
  }

  function label(status) {
    return status.charAt(0).toUpperCase() + status.slice(1);
  }

  function setBadge(badge, data) {
    if (!badge || badge.dataset.status === data.status) return false;
    badge.dataset.status = data.status;
    badge.className = "badge badge-" + data.status;
    badge.textContent = data.status_label || label(data.status);
    return true;
  }

  // Replace an element with the same element of the page as the server renders it now.
  async function refresh(selector) {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector(selector);
    const current = document.querySelector(selector);
    if (fresh && current) current.replaceWith(document.adoptNode(fresh));
  }

  // Follow the status stream named by root's data-events-url; call onStatus(data) for each change.
  // data: {id, status, status_label, finished, name, url, counts?}. shouldResume() tells whether
  // a stream that ended for lack of changes is still needed.
  function follow(root, onStatus, shouldResume) {
    let since = root.dataset.since || "";
    let source = null;
    let pollTimer = null;
    let hiddenTimer = null;
    let stopped = false;

    function open() {
      if (source || stopped) return;
      if (!window.EventSource) { poll(); return; }
      const url = new URL(root.dataset.eventsUrl, window.location.href);
      if (since) url.searchParams.set("since", since);
      source = new EventSource(url);
      source.addEventListener("status", (event) => {
        if (event.lastEventId) since = event.lastEventId;
        onStatus(JSON.parse(event.data));
      });
      source.addEventListener("end", (event) => {
        close();
        const reason = JSON.parse(event.data).reason;
        if (reason === "idle" && shouldResume()) open();
      });
      source.addEventListener("error", () => {
        // CONNECTING: the browser reconnects by itself (with Last-Event-ID). CLOSED: the server
        // refused the stream (too many open, or an error): poll for a while instead.
        if (source && source.readyState === EventSource.CLOSED) {
          close();
          poll();
          window.setTimeout(() => { stopPolling(); open(); }, STREAM_RETRY_AFTER);
        }
      });
    }

    function close() {
      if (source) source.close();
      source = null;
    }

    async function pollOnce() {
      try {
        const response = await fetch(root.dataset.apiUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (response.ok) {
          const body = await response.json();
          for (const upload of body.results || [body]) {
            onStatus({
              id: upload.id, status: upload.status, status_label: label(upload.status),
              finished: !UNFINISHED.has(upload.status), name: upload.original_name, url: upload.url,
            });
          }
        }
      } catch (error) {
        // The network is down: try again at the next tick.
      }
    }

    function poll() {
      if (pollTimer || stopped) return;
      pollTimer = window.setInterval(() => { if (shouldResume()) pollOnce(); }, POLL_INTERVAL);
      pollOnce();
    }

    function stopPolling() {
      if (pollTimer) window.clearInterval(pollTimer);
      pollTimer = null;
    }

    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        hiddenTimer = window.setTimeout(close, HIDDEN_CLOSE_AFTER);
      } else {
        window.clearTimeout(hiddenTimer);
        if (!source && !pollTimer) open();
      }
    });
    open();
    return { stop() { stopped = true; close(); stopPolling(); } };
  }

  function followList(root) {
    let refreshing = null;
    const unfinished = () => [...document.querySelectorAll("#upload-list [data-status]")]
      .some((badge) => UNFINISHED.has(badge.dataset.status));
    follow(root, (data) => {
      const row = document.querySelector(`#upload-list tr[data-upload-id="${data.id}"]`);
      const changed = row ? setBadge(row.querySelector("[data-status]"), data) : false;
      const counts = document.querySelector("#upload-list [data-counts]");
      if (data.counts && counts) {
        const c = data.counts;
        counts.textContent = `${c.done} done · ${c.processing} processing · ${c.pending} waiting · ${c.failed} failed`;
      }
      if (!row || (!data.counts && changed)) {
        // A new upload (from another tab), or counts we were not sent: redraw the list.
        refreshing = refreshing || window.setTimeout(() => { refreshing = null; refresh("#upload-list"); }, 300);
      }
      if (changed && data.finished) announce(`${data.name}: ${data.status_label}`);
    }, unfinished);
  }

  function followDetail(root) {
    const live = follow(root, (data) => {
      const badge = document.querySelector("#upload-detail .page-heading [data-status]");
      if (setBadge(badge, data) && data.finished) {
        live.stop();
        refresh("#upload-detail").then(() => announce(`${data.name}: ${data.status_label}`));
      }
    }, () => true);
  }

  window.UploadsLive = { follow, announce };
  const list = document.querySelector("[data-live-list]");
  if (list) followList(list);
  const detail = document.querySelector("[data-live-detail]");
  if (detail) followDetail(detail);
})();
