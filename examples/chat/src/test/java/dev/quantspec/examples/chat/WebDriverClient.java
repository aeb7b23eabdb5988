package dev.quantspec.examples.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A minimal W3C WebDriver client for Debian's chromedriver and headless Chromium, spoken over HTTP
 * with the JDK's client (no Selenium: the test needs five commands).
 */
final class WebDriverClient implements AutoCloseable {
    private static final String ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process driver;
    private final HttpClient http = HttpClient.newHttpClient();
    private final String base;
    private final String session;

    private WebDriverClient(Process driver, String base, String session) {
        this.driver = driver;
        this.base = base;
        this.session = session;
    }

    /** Starts chromedriver on a free local port and opens a headless Chromium session. */
    static WebDriverClient start() throws Exception {
        Path chromedriver = firstExisting("chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver");
        Path chromium = firstExisting("chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Process p = new ProcessBuilder(chromedriver.toString(), "--port=" + port)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String base = "http://127.0.0.1:" + port;
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                http.send(HttpRequest.newBuilder(URI.create(base + "/status")).build(), HttpResponse.BodyHandlers.ofString());
                break;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline) {
                    p.destroyForcibly();
                    throw new IllegalStateException("chromedriver did not answer on " + base + " within 20 s");
                }
                Thread.sleep(100);
            }
        }
        Map<String, Object> caps = Map.of("capabilities", Map.of("alwaysMatch", Map.of(
                "browserName", "chrome",
                "goog:chromeOptions", Map.of("binary", chromium.toString(), "args", List.of(
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")))));
        JsonNode created = post(http, base + "/session", caps);
        return new WebDriverClient(p, base, created.path("value").path("sessionId").asText());
    }

    void open(String url) throws Exception {
        post(http, sessionUrl("/url"), Map.of("url", url));
    }

    String find(String css) throws Exception {
        JsonNode v = post(http, sessionUrl("/element"), Map.of("using", "css selector", "value", css)).path("value");
        // W3C drivers key the reference with ELEMENT_KEY; older JSON-wire ones with "ELEMENT".
        String id = v.has(ELEMENT_KEY) ? v.path(ELEMENT_KEY).asText() : v.path("ELEMENT").asText();
        if (id.isEmpty()) {
            throw new IllegalStateException("no element '" + css + "' on the page; the driver answered " + v);
        }
        return id;
    }

    void type(String element, String text) throws Exception {
        post(http, sessionUrl("/element/" + element + "/value"), Map.of("text", text));
    }

    void click(String element) throws Exception {
        post(http, sessionUrl("/element/" + element + "/click"), Map.of());
    }

    String text(String element) throws Exception {
        return get(sessionUrl("/element/" + element + "/text")).path("value").asText();
    }

    String attribute(String element, String name) throws Exception {
        return get(sessionUrl("/element/" + element + "/attribute/" + name)).path("value").asText();
    }

    private String sessionUrl(String path) {
        return base + "/session/" + session + path;
    }

    private JsonNode get(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        return checked(url, r);
    }

    private static JsonNode post(HttpClient http, String url, Object body) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build();
        return checked(url, http.send(req, HttpResponse.BodyHandlers.ofString()));
    }

    private static JsonNode checked(String url, HttpResponse<String> r) throws IOException {
        if (r.statusCode() != 200) {
            throw new IllegalStateException("WebDriver " + url + " answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    private static Path firstExisting(String what, String... candidates) {
        for (String c : candidates) {
            if (Files.isExecutable(Path.of(c))) {
                return Path.of(c);
            }
        }
        throw new IllegalStateException(what + " not found (looked at " + String.join(", ", candidates)
                + "); install Debian's chromium and chromium-driver: apt-get install chromium chromium-driver");
    }

    @Override
    public void close() throws Exception {
        try {
            http.send(HttpRequest.newBuilder(URI.create(sessionUrl(""))).DELETE().build(), HttpResponse.BodyHandlers.discarding());
        } finally {
            driver.destroy();
        }
    }
}
