// The console's own script: keeps the API key in this tab's sessionStorage, sends it as the bearer header
// on every htmx request, uploads dropped files to the REST API, draws the performance charts, and adds or
// removes rows of working time in the users and teams forms.
(function () {
  "use strict";

  var KEY = "customer-agent.console.api-key";
  var body = document.body;

  function key() {
    return sessionStorage.getItem(KEY);
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function showSignIn(message) {
    sessionStorage.removeItem(KEY);
    byId("console").hidden = true;
    byId("sign-in").hidden = false;
    byId("session").textContent = "";
    if (message) {
      showMessage(message, "alert");
      byId("sign-in").prepend(byId("flash"));
    }
  }

  function showMessage(text, kind, heading) {
    var flash = byId("flash");
    var box = document.createElement("div");
    box.className = kind;
    if (heading) {
      var strong = document.createElement("strong");
      strong.textContent = heading;
      box.append(strong, " ");
    }
    var message = document.createElement("span");
    message.className = "message";
    message.textContent = text;
    box.append(message);
    flash.replaceChildren(box);
  }

  // #page is busy (assistive technology waits) only while a page is on its way.
  function pageBusy(busy) {
    byId("page").setAttribute("aria-busy", busy ? "true" : "false");
  }

  function currentPage() {
    var name = location.pathname.replace(/^\/console\/?/, "").split("/")[0];
    return name || "content";
  }

  function markCurrent(page) {
    document.querySelectorAll("nav.tabs a").forEach(function (link) {
      if (link.dataset.page === page) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
    });
  }

  function openConsole() {
    byId("sign-in").hidden = true;
    byId("console").hidden = false;
    byId("console").prepend(byId("flash"));
    htmx.ajax("GET", "/console/fragments/session", { target: "#session", swap: "innerHTML" }).then(function () {
      if (!key()) {
        return; // the key was refused: the sign-in form is back, with the API's message
      }
      markCurrent(currentPage());
      // The page's filters travel in its address (the audit log's, from the Credits page's link).
      htmx.ajax("GET", "/console/fragments/" + currentPage() + location.search, { target: "#page", swap: "innerHTML" });
    });
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var stored = key();
    if (stored) {
      event.detail.headers["Authorization"] = "Bearer " + stored;
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var method = (event.detail.requestConfig && event.detail.requestConfig.verb) || "get";
    var target = event.detail.target;
    if (method !== "get" || (target && target.id === "page")) {
      byId("flash").replaceChildren(); // a new action or page: the last message no longer applies
    }
    if (target && target.id === "page") {
      pageBusy(true);
    }
  });

  // An answer in the API's JSON error shape (a check FastAPI made before the console's own code ran, a body
  // over the size limit, a failure of the server) is shown in words where messages go, never swapped in raw.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status < 400 || !/json/i.test(xhr.getResponseHeader("Content-Type") || "")) {
      return;
    }
    event.detail.shouldSwap = false;
    var message = null;
    try {
      message = JSON.parse(xhr.responseText).error.message;
    } catch (ignored) {
      // not the error shape: named by its status below
    }
    showMessage(message || "admin-api answered HTTP " + xhr.status + ".", "alert", "Refused (" + xhr.status + "):");
    pageBusy(false);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "page") {
      pageBusy(false);
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 401) {
      var refusal = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector(".message");
      showSignIn(refusal ? refusal.textContent : "The API key was refused.");
      return;
    }
    if (!event.detail.successful) {
      pageBusy(false);
    }
    var form = event.detail.elt;
    if (event.detail.successful && form && form.tagName === "FORM" && form.dataset.resetFields) {
      var names = form.dataset.resetFields.split(",");
      names.forEach(function (name) {
        form.elements[name].value = "";
      });
      form.elements[names[0]].focus(); // ready for the next one (the preview's next question)
    } else if (event.detail.successful && form && form.tagName === "FORM" && form.dataset.reset === "true") {
      form.reset();
    }
  });

  // An action that swaps the part of the page it was made in takes the keyboard's focus away with the old part.
  // htmx puts it back on an element with the same id; else it goes to the disclosure the action was made in (a
  // <details> with an id, now closed: its summary), else to the new part's heading, never to the top of the page.
  var lostFocus = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    lostFocus = null;
    if (event.detail.shouldSwap && target && target.id && active && active !== body && target.contains(active)) {
      var disclosure = active.closest("details[id]");
      lostFocus = { part: target.id, disclosure: disclosure ? disclosure.id : null };
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    var place = lostFocus;
    lostFocus = null;
    if (!place || (document.activeElement && document.activeElement !== body)) {
      return;
    }
    var disclosure = place.disclosure && byId(place.disclosure);
    var part = byId(place.part);
    var next = disclosure ? disclosure.querySelector("summary") : part && part.querySelector("h1, h2");
    if (next) {
      if (next.tagName !== "SUMMARY") {
        next.setAttribute("tabindex", "-1"); // a heading takes the focus only when told to
      }
      next.focus();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status >= 500 && !event.detail.xhr.responseText) {
      showMessage("The console got HTTP " + event.detail.xhr.status + " from admin-api.", "alert");
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showMessage("admin-api could not be reached; nothing was changed.", "alert");
    pageBusy(false);
  });

  // A page's filters go into its address (as the Credits page's link puts them), so a reload keeps them.
  // (The form is swapped away with its page: the event comes from #page, the form is the request's element.)
  document.addEventListener("htmx:afterRequest", function (event) {
    var config = event.detail.requestConfig;
    var form = config && config.elt;
    if (!event.detail.successful || !form || form.tagName !== "FORM" || !form.classList.contains("filters")) {
      return;
    }
    var sent = new URL(event.detail.pathInfo.finalRequestPath, location.href);
    var query = new URLSearchParams();
    sent.searchParams.forEach(function (value, name) {
      if (value) {
        query.append(name, value);
      }
    });
    var search = query.toString();
    history.replaceState(history.state, "", "/console/" + currentPage() + (search ? "?" + search : ""));
  });

  document.addEventListener("htmx:pushedIntoHistory", function () {
    markCurrent(currentPage());
  });

  // The users and teams forms: a row of working time is added from the form's <template>, or removed.
  function addHoursRow(editor) {
    var number = Number(editor.dataset.nextRow || 0);
    var row = editor.querySelector("template").content.firstElementChild.cloneNode(true);
    var first = !editor.querySelector(".hours-rows .hours-row");
    editor.dataset.nextRow = String(number + 1);
    row.querySelectorAll("[name]").forEach(function (field) {
      field.name = field.name.replace("__row__", String(number));
      if (field.type === "checkbox" && !first) {
        field.checked = false; // the first row offers Monday to Friday; a later one is for other days
      }
    });
    editor.querySelector(".hours-rows").append(row);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) {
      return;
    }
    if (target.id === "sign-out") {
      sessionStorage.removeItem(KEY);
      location.assign("/console/");
    } else if (target.closest("[data-add-hours]")) {
      addHoursRow(target.closest(".hours-editor"));
    } else if (target.closest("[data-remove-hours]")) {
      target.closest(".hours-row").remove();
    }
  });

  // A new user or team starts in the browser's time zone, when the API knows it.
  function preselectBrowserZone(root) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!root.querySelectorAll || !zone) {
      return;
    }
    root.querySelectorAll("select[data-browser-zone]").forEach(function (select) {
      if (Array.prototype.some.call(select.options, function (option) { return option.value === zone; })) {
        select.value = zone;
      }
    });
  }

  byId("sign-in-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var field = byId("api-key");
    sessionStorage.setItem(KEY, field.value.trim());
    field.value = "";
    openConsole();
  });

  // Uploads go straight to the REST API (POST /sources/files), as any outside tool would send them.
  function upload(zone, files) {
    var status = zone.querySelector(".upload-status");
    var url = "/v1/accounts/" + encodeURIComponent(zone.dataset.account) + "/sources/files";
    var pending = Array.prototype.map.call(files, function (file) {
      var form = new FormData();
      form.append("file", file);
      form.append("citations_enabled", zone.elements.citations_enabled.checked ? "true" : "false");
      form.append("private", zone.elements.private.checked ? "true" : "false");
      return fetch(url, { method: "POST", headers: { Authorization: "Bearer " + key() }, body: form })
        .then(function (response) {
          if (response.ok) {
            return file.name + ": uploaded";
          }
          return response.json().then(
            function (refused) {
              throw new Error(file.name + ": " + refused.error.message);
            },
            function () {
              throw new Error(file.name + ": HTTP " + response.status);
            }
          );
        });
    });
    status.textContent = "Uploading " + files.length + " file(s)…";
    Promise.allSettled(pending).then(function (results) {
      var failures = results.filter(function (r) { return r.status === "rejected"; });
      status.textContent = results.length - failures.length + " of " + results.length + " uploaded.";
      if (failures.length) {
        showMessage(failures.map(function (r) { return r.reason.message; }).join(" — "), "alert");
      }
      htmx.trigger(body, "sources-changed");
    });
  }

  function wireDropzone(root) {
    var zone = root.querySelector ? root.querySelector("#dropzone") : null;
    if (!zone || zone.dataset.wired) {
      return;
    }
    zone.dataset.wired = "true";
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () {
      zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      upload(zone, event.dataTransfer.files);
    });
    zone.elements.file.addEventListener("change", function () {
      upload(zone, zone.elements.file.files);
      zone.elements.file.value = "";
    });
  }

  function drawCharts(root) {
    if (!root.querySelectorAll || typeof Chart === "undefined") {
      return;
    }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (!Chart.getChart(canvas)) {
        new Chart(canvas, JSON.parse(canvas.dataset.chart));
      }
    });
  }

  htmx.onLoad(function (root) {
    wireDropzone(root);
    drawCharts(root);
    preselectBrowserZone(root);
  });

  if (key()) {
    openConsole();
  } else {
    showSignIn();
  }
})();
