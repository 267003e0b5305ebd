// Poll the upload's status while the worker runs; reload once to show the results.
(function () {
  const element = document.getElementById("upload-status");
  if (!element) return;
  const url = element.dataset.statusUrl;
  let delay = 1000;
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const upload = await response.json();
        if (upload.status !== element.dataset.status) {
          if (upload.status === "done" || upload.status === "failed") {
            window.location.reload();
            return;
          }
          element.dataset.status = upload.status;
          element.textContent = upload.status.charAt(0).toUpperCase() + upload.status.slice(1);
        }
      }
    } catch (error) {
      // Network hiccup: keep polling, a little slower.
    }
    delay = Math.min(delay * 1.5, 10000);
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();
