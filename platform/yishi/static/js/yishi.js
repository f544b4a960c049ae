// Small progressive enhancements; every page works without them.
(function () {
  // Inline style attributes are blocked by our CSP; widths come from data attributes instead.
  document.querySelectorAll("[data-width]").forEach(function (node) {
    node.style.width = node.getAttribute("data-width") + "%";
  });
  // Task pages poll their JSON and update the progress bar until the task ends.
  var task = document.querySelector("[data-task-poll]");
  if (task) {
    var bar = task.querySelector(".progress-bar");
    var status = task.querySelector("[data-task-status]");
    var message = task.querySelector("[data-task-message]");
    var poll = function () {
      fetch(task.getAttribute("data-task-poll"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          bar.style.width = data.progress + "%";
          bar.setAttribute("aria-valuenow", data.progress);
          bar.textContent = data.progress + "%";
          if (message) { message.textContent = data.message || ""; }
          if (data.status === "finished" || data.status === "failed") {
            window.location.reload();
          } else {
            if (status) { status.textContent = data.status; }
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 1000);
  }
  // Copy buttons (the new API token).
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (target && navigator.clipboard) { navigator.clipboard.writeText(target.textContent.trim()); }
    });
  });
})();
