// Packages: the cluster's package store; upload (with a progress bar each) and delete (confirmed).

import { confirmDialog, errorBox, formatBytes, formatTime, h, num, replace, table } from "../view.js";

function packageRows(ctx, list, reload, status) {
  return list.map((p) => {
    const remove = h("button", { type: "button", class: "danger", "data-delete": p.pkg_id,
                                 "aria-label": `Delete package ${p.pkg_id} ${p.name} ${p.version}` }, "Delete");
    remove.addEventListener("click", async () => {
      const yes = await confirmDialog({
        title: `Delete package ${p.pkg_id}?`, confirm: "Delete", danger: true,
        body: h("p", {}, `${p.name}-${p.version}-${p.release_distribution}.${p.architecture}.rpm is removed from `
          + "the cluster's package store. An upgrade to this version needs it uploaded again."),
      });
      if (!yes) return;
      try {
        await ctx.agent.call("DELETE", `/api/v1/upgrade/package/${encodeURIComponent(p.pkg_id)}`);
        ctx.flash(`Package ${p.pkg_id} deleted.`);
        await reload();
      } catch (error) {
        replace(status, errorBox(error, `Package ${p.pkg_id} was not deleted:`));
      }
    });
    return [num(p.pkg_id), p.name, p.version, p.release_distribution, p.architecture,
            { cell: formatBytes(p.file_size || p.payload_size), class: "num" }, formatTime(p.gmt_modify), remove];
  });
}

function uploader(ctx, reload) {
  const input = h("input", { type: "file", id: "package-files", name: "file", multiple: true, accept: ".rpm" });
  const start = h("button", { type: "submit", class: "primary", id: "upload" }, "Upload");
  const list = h("ul", { class: "uploads", id: "upload-list" });
  const form = h("form", { id: "upload-form" },
    h("div", { class: "field" }, h("label", { for: "package-files" }, "RPM files"), input,
      h("div", { class: "hint" }, "oceanbase-ce and oceanbase-ce-libs of the target version (and of every version on "
        + "the route to it)")),
    h("div", { class: "actions" }, start), list);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = [...input.files];
    if (!files.length) {
      replace(list, h("li", {}, errorBox({ message: "Choose one or more RPM files first." })));
      return;
    }
    start.disabled = true;
    list.replaceChildren();
    let failures = 0;
    for (const file of files) {
      const bar = h("progress", { max: 100, value: 0, "aria-label": `Upload of ${file.name}` });
      const note = h("span", { class: "muted" }, " waiting");
      const item = h("li", { "data-file": file.name }, h("strong", {}, file.name), " ", bar, note);
      list.append(item);
      try {
        const stored = await ctx.agent.upload(file, (loaded, total) => {
          bar.value = Math.round((100 * loaded) / total);
          note.textContent = ` ${formatBytes(loaded)} of ${formatBytes(total)}`;
        });
        bar.value = 100;
        note.textContent = ` stored as package ${stored.pkg_id}`;
        item.dataset.done = "yes";
      } catch (error) {
        failures++;
        note.textContent = " refused";
        item.append(errorBox(error));
        item.dataset.done = "no";
      }
    }
    start.disabled = false;
    input.value = "";
    ctx.flash(`${files.length - failures} of ${files.length} file(s) uploaded.`);
    await reload();
  });
  return form;
}

export async function render(ctx, main) {
  const status = h("div", { id: "packages-status" });
  const body = h("div", { id: "packages" });
  const reload = async () => {
    const list = await ctx.agent.call("GET", "/api/v1/upgrade/package/info");
    replace(body, table([["id", "num"], "name", "version", "release", "arch", ["size", "num"], "stored", ""],
                        packageRows(ctx, list, reload, status), { id: "package-table" }));
  };
  replace(main, h("h1", {}, "Packages"), status, body, h("h2", {}, "Upload"), uploader(ctx, async () => {
    try {
      await reload();
    } catch (error) {
      replace(status, errorBox(error));
    }
  }));
  await reload();
}
