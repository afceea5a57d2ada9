package web_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/audit-cli/audit/internal/testutil"
)

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// chromium finds the browser: AUDIT_CHROMIUM, else Debian's chromium or
// Google's chrome on PATH.
func chromium() string {
	if p := os.Getenv("AUDIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser drives a real chromium against a real `audit serve` over a
// real SQLite store filled with sample data, as a person would: sign in
// with a token, filter by type and user, export and compare the download
// with `audit export`, page Older and Newer, open an event, watch a live
// row arrive, read it at 375 px, and never see a CSP violation or a
// script error. UPDATE_SCREENSHOT=1 saves docs/img/web-console.png.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a real browser: not in -short")
	}
	exe := chromium()
	if exe == "" {
		t.Skip("!!! NO CHROMIUM: the web console's browser test is SKIPPED (apt-get install chromium, or set AUDIT_CHROMIUM) !!!")
	}
	bin, err := testutil.AuditBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "audit.db")
	run := func(stdin []byte, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--store", db, "--utc"}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_STATE_HOME="+dir, "NO_COLOR=1", "AUDIT_PAGER=")
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("audit %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	sample, err := exec.Command("go", "run", "github.com/audit-cli/audit/cmd/gen-sample", "-n", "400", "-days", "20").Output()
	if err != nil {
		t.Fatalf("gen-sample: %v", err)
	}
	run(sample, "import", "-")
	token := regexp.MustCompile(`audit_[A-Za-z0-9_-]+`).FindString(run(nil, "token", "create", "--name", "browser", "--role", "admin"))
	if token == "" {
		t.Fatal("no token printed")
	}

	urlFile := filepath.Join(dir, "url")
	srv := exec.Command(bin, "--store", db, "--utc", "serve", "--listen", "127.0.0.1:0", "--url-file", urlFile)
	srv.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_STATE_HOME="+dir)
	var srvLog testutil.SyncBuffer
	srv.Stderr = &srvLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		if strings.Contains(srvLog.String(), token) {
			t.Errorf("the server's log holds the token")
		}
	})
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(urlFile)
		base = strings.TrimSpace(string(b))
	}
	if base == "" {
		t.Fatalf("the server did not start:\n%s", srvLog.String())
	}

	downloads := filepath.Join(dir, "downloads")
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1280, 900))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, srvLog.String())
		}
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		must(what, chromedp.Do(ctx, actions...))
	}
	strs := func(what, js string) []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
		must(what, err)
		return v
	}
	text := func(what string, sel chromedp.CSS) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		must(what, err)
		return strings.TrimSpace(v)
	}
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Location())
		must("location", err)
		return v
	}

	// Every script error and every console error (CSP violations are
	// logged there) fails the test.
	var mu sync.Mutex
	var problems []string
	must("listen", chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "script error: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console error")
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				problems = append(problems, "console: "+ev.Entry.Text)
			}
		}
	}))
	done := make(chan string, 4)
	must("listen to the browser", chromedp.ListenBrowser(ctx, func(ev any) {
		if ev, ok := ev.(*browser.EventDownloadProgress); ok && ev.State == browser.DownloadProgressStateCompleted {
			done <- ev.GUID
		}
	}))
	_, err = chromedp.Call(ctx, log.Enable, cdp.Empty{})
	must("log.enable", err)
	_, err = chromedp.Call(ctx, runtime.Enable, cdp.Empty{})
	must("runtime.enable", err)
	events := true
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &events})
	must("downloads", err)

	do("open the console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := location(); !strings.HasPrefix(loc, base+"/login") {
		t.Fatalf("without a session the console is at %s, want the login form", loc)
	}
	do("sign in", chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.log")))
	if title := text("title", "h1"); title != "Audit Logs" {
		t.Fatalf("after signing in: %q", title)
	}

	// Filter by type and user in the form.
	do("filter", chromedp.SetValue(chromedp.ID("f-type"), "security"), chromedp.SetValue(chromedp.ID("f-user"), "jdavis"),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
		chromedp.WaitReady(chromedp.CSS(`#f-type option[value="security"][selected]`)))
	if u := location(); !strings.Contains(u, "type=security") || !strings.Contains(u, "user=jdavis") {
		t.Errorf("the filter's URL %s", u)
	}
	types := strs("badges", `[...document.querySelectorAll("#rows .badge:not(.failed)")].map(b => b.textContent)`)
	names := strs("names", `[...document.querySelectorAll("#rows .name")].map(n => n.textContent)`)
	if len(types) == 0 || len(types) != len(names) {
		t.Fatalf("filtered rows: %d badges, %d names", len(types), len(names))
	}
	for i := range types {
		if types[i] != "security" || names[i] != "John Davis" {
			t.Errorf("row %d: %s by %s", i, types[i], names[i])
		}
	}

	// Export downloads exactly what audit export writes for that filter.
	do("export", chromedp.Click(chromedp.CSS(`a.button[href^="/export.csv"]`)))
	var guid string
	select {
	case guid = <-done:
	case <-ctx.Done():
		t.Fatal("the download did not complete")
	}
	got, err := os.ReadFile(filepath.Join(downloads, guid))
	if err != nil {
		t.Fatal(err)
	}
	want := run(nil, "export", "--type", "security", "--user", "jdavis", "--format", "csv")
	if string(got) != want || strings.Count(want, "\n") < 2 {
		t.Errorf("the console's export differs from audit export:\n%s\nwant:\n%s", got, want)
	}

	// Page Older, then Newer: back to the same rows.
	seqs := `[...document.querySelectorAll("#rows tr")].map(r => r.dataset.seq)`
	do("first page", chromedp.EmulateViewport(1280, 860), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("table.log")))
	first := strs("first page", seqs)
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		must("screenshot", err)
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", "web-console.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do("older", chromedp.Click(chromedp.CSS(`a[rel="next"]`)), chromedp.WaitVisible(chromedp.CSS(`a[rel="prev"]`)))
	older := strs("older page", seqs)
	do("newer", chromedp.Click(chromedp.CSS(`a[rel="prev"]`)), chromedp.WaitVisible(chromedp.CSS(`nav.pager span.off`)))
	back := strs("newer page", seqs)
	if len(first) != 50 || len(older) != 50 || fmt.Sprint(back) != fmt.Sprint(first) || atoi(t, older[0]) != atoi(t, first[49])-1 {
		t.Errorf("pages: first %v, older %v, back %v", first, older, back)
	}

	// A row opens its event.
	do("open an event", chromedp.Click(chromedp.CSS(`#rows tr:first-child td.action a`)), chromedp.WaitVisible(chromedp.CSS("table.fields")))
	if fields := text("fields", "table.fields"); !strings.Contains(fields, "hash") || !strings.Contains(fields, "seq\t"+first[0]) && !strings.Contains(fields, first[0]) {
		t.Errorf("event page:\n%s", fields)
	}

	// Live: a recorded event appears on top without a reload.
	do("live", chromedp.Navigate(base+"/?live=1"), chromedp.WaitVisible(chromedp.CSS("table.log")))
	run(nil, "record", "--type", "security", "--user", "jdavis", "--user-name", "John Davis", "--action", "Browser Live Check",
		"--ip", "10.0.0.55")
	do("live row", chromedp.WaitVisible(chromedp.CSS(`#rows tr:first-child a[href^="/events/"]`)),
		chromedp.WaitVisible(`//tbody[@id="rows"]/tr[1]//a[contains(., "Browser Live Check")]`))

	// Readable at 375 px: nothing wider than the screen but the table,
	// which scrolls in its own box.
	do("375 px", chromedp.EmulateViewport(375, 800), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("table.log")))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	must("375 px", err)
	if overflow {
		t.Errorf("at 375 px the page is wider than the screen")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
	}
}
