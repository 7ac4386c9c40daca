//! The `/targets` page in a real browser: Debian's headless `chromium` loads it from a live
//! server, renders a screenshot (kept under the target directory, path printed) and dumps the
//! DOM it built. Skipped, with the reason printed, when `chromium` is not installed.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::tests::Fixed;
use super::*;
use crate::store::StoreConfig;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// `<target>/tmp`, what `CARGO_TARGET_TMPDIR` names for integration tests.
fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/<test binary>
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = target.join("tmp");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_chromium(
    bin: &PathBuf,
    profile: &std::path::Path,
    extra: &[String],
    url: &str,
) -> std::process::Output {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null());
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    // Never hang the test suite on a stuck browser.
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(25));
        let _ = Command::new("kill")
            .args(["-KILL", &id.to_string()])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_page_renders_in_headless_chromium() {
    let Some(bin) = chromium() else {
        println!("SKIPPED: `chromium` is not installed (apt-get install -y chromium)");
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/targets", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let api = Api::new(Store::new(StoreConfig::default())).with_targets(Arc::new(Fixed));
    let server = tokio::spawn(api.serve(listener, cancel.clone()));

    let profile = tempfile::tempdir().unwrap();
    let png = target_tmp().join("targets-page.png");
    let _ = std::fs::remove_file(&png);
    let (b, p, u, shot) = (
        bin.clone(),
        profile.path().to_owned(),
        url.clone(),
        png.clone(),
    );
    let out = tokio::task::spawn_blocking(move || {
        run_chromium(
            &b,
            &p,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1200,800".to_owned(),
            ],
            &u,
        )
    })
    .await
    .unwrap();
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {} ({e}); chromium said: {}",
            png.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    println!("screenshot of /targets: {}", png.display());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 800));

    // The DOM the browser built from the page, without any script.
    let (b, p, u) = (bin, profile.path().to_owned(), url);
    let out =
        tokio::task::spawn_blocking(move || run_chromium(&b, &p, &["--dump-dom".to_owned()], &u))
            .await
            .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<h2>api (0/2 up)</h2>"), "{dom}");
    assert!(dom.contains("<h2>node (1/1 up)</h2>"), "{dom}");
    assert!(
        dom.contains(
            "<td class=\"err\">Get \"http://a&lt;b&gt;:1/metrics\": connection refused</td>"
        ),
        "{dom}"
    );
    assert!(dom.contains("<td class=\"state\">UP</td>"), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
    cancel.cancel();
    server.await.unwrap();
}

/// Runs the `/graph` page of `api` in headless chromium with `query` (Prometheus' `g0.*`
/// URL parameters, which fill the expression box and click Execute) and returns the DOM once
/// the page's requests settled.
async fn graph_dom(bin: &std::path::Path, base: &str, query: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let (b, p, u) = (
        bin.to_path_buf(),
        profile.path().to_owned(),
        format!("{base}/graph?{query}"),
    );
    let out = tokio::task::spawn_blocking(move || {
        run_chromium(
            &b,
            &p,
            &[
                "--virtual-time-budget=10000".to_owned(),
                "--dump-dom".to_owned(),
            ],
            &u,
        )
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_page_queries_and_draws_in_headless_chromium() {
    let Some(bin) = chromium() else {
        println!("SKIPPED: `chromium` is not installed (apt-get install -y chromium)");
        return;
    };
    // `up` for two targets, a sample every 15 s over the last 30 minutes.
    let store = Store::new(StoreConfig::default());
    let now = crate::api::now_ms();
    let mut app = scrapeline_scrape::Appendable::appender(&store);
    for (instance, v) in [("h:1", 1.0), ("h:2", 0.0)] {
        let labels = Labels::from_pairs([("__name__", "up"), ("instance", instance), ("job", "j")]);
        for i in (0..120).rev() {
            app.append(0, &labels, now - i * 15_000, v).unwrap();
        }
    }
    app.commit().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(Api::new(store).serve(listener, cancel.clone()));

    // Table tab: one row per series, labels and value.
    let dom = graph_dom(&bin, &base, "g0.expr=up&g0.tab=1").await;
    assert!(
        dom.contains("data-done="),
        "the query never finished: {dom}"
    );
    assert!(
        dom.contains(
            "<tr><td>up{instance=\"h:1\", job=\"j\"}</td><td class=\"value\">1</td></tr>\
             <tr><td>up{instance=\"h:2\", job=\"j\"}</td><td class=\"value\">0</td></tr>"
        ),
        "{dom}"
    );
    assert!(dom.contains("<div id=\"error\"></div>"), "{dom}");

    // Graph tab over the default hour: one drawn path per series, a legend entry each.
    let dom = graph_dom(&bin, &base, "g0.expr=up&g0.tab=0").await;
    let paths: Vec<&str> = dom
        .split("<path ")
        .skip(1)
        .filter(|p| p.contains("class=\"series\""))
        .collect();
    assert_eq!(paths.len(), 2, "{dom}");
    for p in &paths {
        let d = p.split("d=\"").nth(1).unwrap().split('"').next().unwrap();
        // 1h at a 15 s step: the 30 minutes of samples give well over a hundred points.
        assert!(d.matches('L').count() > 100, "{d}");
    }
    assert!(
        dom.contains("</span>up{instance=\"h:1\", job=\"j\"}</div>")
            && dom.contains("</span>up{instance=\"h:2\", job=\"j\"}</div>"),
        "{dom}"
    );
    assert!(
        dom.contains("<option value=\"3600\" selected=\"\">1h</option>"),
        "{dom}"
    );

    // A screenshot of the chart, for people (path printed).
    let png = target_tmp().join("graph-page.png");
    let _ = std::fs::remove_file(&png);
    let profile = tempfile::tempdir().unwrap();
    let (b, p, u, shot) = (
        bin.clone(),
        profile.path().to_owned(),
        format!("{base}/graph?g0.expr=up&g0.tab=0"),
        png.clone(),
    );
    tokio::task::spawn_blocking(move || {
        run_chromium(
            &b,
            &p,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1000,700".to_owned(),
                "--virtual-time-budget=10000".to_owned(),
            ],
            &u,
        )
    })
    .await
    .unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    println!("screenshot of /graph: {}", png.display());

    // A bad expression: the API's error, shown.
    let dom = graph_dom(&bin, &base, "g0.expr=up%7B&g0.tab=1").await;
    assert!(
        dom.contains("<div id=\"error\">bad_data: invalid parameter \"query\": "),
        "{dom}"
    );
    cancel.cancel();
    server.await.unwrap();
}
