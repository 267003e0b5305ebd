// The upload page, enhanced: files picked or dropped go up one request each, with their own
// progress bar, cancel button and outcome, so one refused file leaves the others alone; then
// their status follows live (live.js). Without JavaScript the plain form posts them together.
(function () {
  "use strict";

  const form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  const input = form.querySelector("input[type=file]");
  const dropzone = form.querySelector("[data-dropzone]");
  const queue = document.querySelector("[data-queue]");
  const list = queue.querySelector("[data-queue-list]");
  const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const maxBytes = Number(form.dataset.maxBytes);
  const CONCURRENT = 2; // uploads in flight at once
  const MAX_RATE_LIMIT_WAIT = 60; // seconds; a longer Retry-After refuses the file

  const waiting = [];
  const byId = new Map(); // upload id -> item, once the server accepted it
  let active = 0;
  let live = null;

  form.classList.add("enhanced");
  input.required = false;
  form.querySelector("[data-drop-hint]").hidden = false;
  form.querySelector("#upload-hint").textContent =
    "Each file goes up on its own, with its own progress: a refused file does not stop the others.";

  function humanSize(bytes) {
    const units = [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]];
    for (const [unit, size] of units) {
      if (bytes >= size) {
        const value = bytes / size;
        return `${Number.isInteger(value) || value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
      }
    }
    return `${bytes.toLocaleString("en")} bytes`;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class Item {
    constructor(file) {
      this.file = file;
      this.xhr = null;
      this.node = element("li", "upload-item");
      const head = element("div", "upload-item-head");
      this.name = element("span", "upload-item-name", file.name);
      head.append(this.name, element("span", "upload-item-size", humanSize(file.size)));
      this.bar = element("progress", "upload-item-progress");
      this.bar.max = 100;
      this.bar.value = 0;
      this.bar.setAttribute("aria-label", `Upload of ${file.name}`);
      this.status = element("p", "upload-item-status");
      this.cancelButton = element("button", "button button-small button-quiet", "Cancel");
      this.cancelButton.type = "button";
      this.cancelButton.setAttribute("aria-label", `Cancel ${file.name}`);
      this.cancelButton.addEventListener("click", () => this.cancel());
      this.node.append(head, this.bar, this.status, this.cancelButton);
      list.append(this.node);
      this.set("queued", "Waiting to upload");
    }

    set(state, text) {
      this.node.dataset.state = state;
      this.status.textContent = text;
    }

    progress(fraction) {
      const percent = Math.round(fraction * 100);
      this.bar.value = percent;
      this.set("uploading", percent < 100 ? `Uploading… ${percent}%` : "Uploaded; storing…");
    }

    finishUpload() {
      this.cancelButton.remove();
      this.bar.remove();
    }

    refuse(reason) {
      this.finishUpload();
      this.set("refused", `Refused: ${reason}`);
      window.UploadsLive.announce(`${this.file.name} refused: ${reason}`);
    }

    accepted(upload) {
      this.finishUpload();
      this.id = upload.id;
      byId.set(upload.id, this);
      const link = element("a", "", this.file.name);
      link.href = upload.url;
      this.name.replaceChildren(link);
      this.update({ status: upload.status, status_label: "Pending", finished: false });
      follow();
    }

    update(data) {
      const text = {
        pending: "Uploaded; waiting for the worker",
        processing: "The worker is inspecting it",
        done: "Done",
        failed: "Processing failed: see its page",
      }[data.status] || data.status_label;
      this.set(data.status, text);
      if (data.finished) window.UploadsLive.announce(`${this.file.name}: ${data.status_label}`);
    }

    cancel() {
      const index = waiting.indexOf(this);
      if (index >= 0) {
        waiting.splice(index, 1);
        this.finishUpload();
        this.set("cancelled", "Cancelled");
      } else if (this.xhr) {
        this.xhr.abort();
      }
    }
  }

  function follow() {
    if (live || !window.UploadsLive) return;
    const unfinished = () => [...byId.values()].some((item) => ["pending", "processing"].includes(item.node.dataset.state));
    live = window.UploadsLive.follow(queue, (data) => {
      const item = byId.get(data.id);
      if (item && item.node.dataset.state !== data.status) item.update(data);
    }, unfinished);
  }

  function send(item) {
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", form.dataset.apiUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) item.progress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (error) { /* not JSON: nginx or a proxy answered */ }
      const retryAfter = Number(xhr.getResponseHeader("Retry-After"));
      if (xhr.status === 201) {
        item.accepted(body.results[0]);
      } else if (xhr.status === 429 && retryAfter > 0 && retryAfter <= MAX_RATE_LIMIT_WAIT) {
        item.set("queued", `Too many uploads this minute: retrying in ${retryAfter} s`);
        window.setTimeout(() => { waiting.unshift(item); pump(); }, retryAfter * 1000);
      } else {
        item.refuse(body.error || `the server answered ${xhr.status} ${xhr.statusText}`.trim());
      }
      done();
    });
    xhr.addEventListener("error", () => { item.refuse("the connection failed; check the network and try again"); done(); });
    xhr.addEventListener("abort", () => { item.finishUpload(); item.set("cancelled", "Cancelled"); done(); });
    const data = new FormData();
    data.append("file", item.file, item.file.name);
    item.set("uploading", "Uploading… 0%");
    xhr.send(data);
  }

  function done() {
    active -= 1;
    pump();
  }

  function pump() {
    while (active < CONCURRENT && waiting.length) {
      active += 1;
      send(waiting.shift());
    }
  }

  function add(files) {
    if (!files.length) return;
    queue.hidden = false;
    for (const file of files) {
      const item = new Item(file);
      if (file.size > maxBytes) {
        item.refuse(`larger than the limit of ${form.dataset.maxSize} per file`);
      } else if (file.size === 0) {
        item.refuse("the file is empty");
      } else {
        waiting.push(item);
      }
    }
    pump();
  }

  input.addEventListener("change", () => {
    add([...input.files]);
    input.value = "";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    add([...input.files]);
    input.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("dragging");
    });
  }
  dropzone.addEventListener("dragleave", (event) => {
    if (!dropzone.contains(event.relatedTarget)) dropzone.classList.remove("dragging");
  });
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("dragging");
    add([...event.dataTransfer.files]);
  });
})();
