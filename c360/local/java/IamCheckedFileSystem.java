// The local Glue runner's view of S3 for Spark: a run's staged buckets on the local disk, with every S3 request that
// Hadoop's S3A connector would make authorized first by the emulator as the job's role (POST /_c360/iam/check).
// Compiled on first use by c360/local/iam_fs.py; the rules it follows are in that module's docstring.
package c360;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.AccessDeniedException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CreateFlag;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

public class IamCheckedFileSystem extends RawLocalFileSystem {
    public static final String SCHEME = "c360s3";
    private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    // One answer per (run, session, action, resource, prefix): a run asks the same question many times.
    private static final ConcurrentHashMap<String, String> ANSWERS = new ConcurrentHashMap<>();
    private String stage;
    private String endpoint;
    private String session;
    private String run;

    @Override
    public void initialize(URI uri, Configuration conf) throws IOException {
        super.initialize(uri, conf);
        stage = new File(require(conf, "c360.iam.stage")).getAbsolutePath();
        endpoint = require(conf, "c360.iam.endpoint");
        session = require(conf, "c360.iam.session");
        run = conf.get("c360.iam.run", "");  // answers are kept per run: a policy may change between runs
    }

    private static String require(Configuration conf, String name) throws IOException {
        String value = conf.get(name);
        if (value == null || value.isEmpty()) {
            throw new IOException(name + " is not set: the local Glue runner sets it for each run");
        }
        return value;
    }

    @Override
    public String getScheme() {
        return SCHEME;
    }

    @Override
    public URI getUri() {
        return URI.create(SCHEME + ":///");
    }

    // ------------------------------------------------------------------ the S3 requests S3A would make
    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
        if (enter()) {
            try {
                authorize("open", f, "s3:GetObject", key(f), null);
            } catch (IOException e) {
                leave();
                throw e;
            }
        }
        try {
            return super.open(f, bufferSize);
        } finally {
            leave();
        }
    }

    @Override
    public FileStatus getFileStatus(Path f) throws IOException {
        if (enter()) {
            try {
                // HEAD of the object (s3:GetObject); a directory or a missing key is then a LIST (s3:ListBucket)
                if (pathToFile(f).isFile()) {
                    authorize("getFileStatus", f, "s3:GetObject", key(f), null);
                } else {
                    authorize("getFileStatus", f, "s3:ListBucket", null, dirPrefix(f));
                }
            } catch (IOException e) {
                leave();
                throw e;
            }
        }
        try {
            return plain(super.getFileStatus(f));
        } finally {
            leave();
        }
    }

    @Override
    public FileStatus[] listStatus(Path f) throws IOException {
        if (enter()) {
            try {
                authorize("listStatus", f, "s3:ListBucket", null, pathToFile(f).isFile() ? key(f) : dirPrefix(f));
            } catch (IOException e) {
                leave();
                throw e;
            }
        }
        try {
            FileStatus[] statuses = super.listStatus(f);
            for (int i = 0; i < statuses.length; i++) {
                statuses[i] = plain(statuses[i]);
            }
            return statuses;
        } finally {
            leave();
        }
    }

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize,
                                     short replication, long blockSize, Progressable progress) throws IOException {
        boolean outer = enter();
        try {
            if (outer) {
                authorize("create", f, "s3:PutObject", key(f), null);
            }
            return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
        } finally {
            leave();
        }
    }

    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
                                     Progressable progress) throws IOException {
        boolean outer = enter();
        try {
            if (outer) {
                authorize("create", f, "s3:PutObject", key(f), null);
            }
            return super.create(f, overwrite, bufferSize, replication, blockSize, progress);
        } finally {
            leave();
        }
    }

    @Override
    public FSDataOutputStream createNonRecursive(Path f, FsPermission permission, EnumSet<CreateFlag> flags,
                                                 int bufferSize, short replication, long blockSize,
                                                 Progressable progress) throws IOException {
        boolean outer = enter();
        try {
            if (outer) {
                authorize("create", f, "s3:PutObject", key(f), null);
            }
            return super.createNonRecursive(f, permission, flags, bufferSize, replication, blockSize, progress);
        } finally {
            leave();
        }
    }

    @Override
    public FSDataOutputStream append(Path f, int bufferSize, Progressable progress) throws IOException {
        throw new IOException("append is not supported by S3: " + f);
    }

    @Override
    public boolean mkdirs(Path f, FsPermission permission) throws IOException {
        boolean outer = enter();
        try {
            if (outer && !pathToFile(f).isDirectory() && !key(f).isEmpty()) {
                authorize("mkdirs", f, "s3:PutObject", key(f) + "/", null);  // the directory marker
            }
            return super.mkdirs(f, permission);
        } finally {
            leave();
        }
    }

    @Override
    public boolean delete(Path p, boolean recursive) throws IOException {
        boolean outer = enter();
        try {
            if (outer) {
                File file = pathToFile(p);
                if (file.isDirectory()) {
                    authorize("delete", p, "s3:ListBucket", null, dirPrefix(p));
                    List<String> keys = filesUnder(file);
                    if (keys.isEmpty()) {
                        keys.add(key(p) + "/");
                    }
                    for (String k : keys) {
                        authorize("delete", p, "s3:DeleteObject", k, null);
                    }
                } else if (file.exists()) {
                    authorize("delete", p, "s3:DeleteObject", key(p), null);
                }
            }
            return super.delete(p, recursive);
        } finally {
            leave();
        }
    }

    @Override
    public boolean rename(Path src, Path dst) throws IOException {
        boolean outer = enter();
        try {
            if (outer) {  // S3A copies each object, then deletes the source
                File from = pathToFile(src);
                String target = key(dst);
                List<String> keys = from.isDirectory() ? filesUnder(from) : List.of(key(src));
                String base = key(src);
                for (String k : keys) {
                    authorize("rename", src, "s3:GetObject", k, null);
                    authorize("rename", dst, "s3:PutObject", target + k.substring(base.length()), null);
                    authorize("rename", src, "s3:DeleteObject", k, null);
                }
            }
            return super.rename(src, dst);
        } finally {
            leave();
        }
    }

    @Override
    public FileStatus getFileLinkStatus(Path f) throws IOException {
        return getFileStatus(f);
    }

    // ------------------------------------------------------------------ helpers
    /** RawLocalFileSystem's statuses read their permissions lazily from a file: URI, which this path is not. */
    private static FileStatus plain(FileStatus s) {
        FsPermission permission = s.isDirectory() ? FsPermission.getDirDefault() : FsPermission.getFileDefault();
        return new FileStatus(s.getLen(), s.isDirectory(), s.getReplication(), s.getBlockSize(),
                s.getModificationTime(), s.getAccessTime(), permission, "", "", s.getPath());
    }

    private static boolean enter() {
        return DEPTH.get()[0]++ == 0;  // only the outermost call is a request: the rest is its implementation
    }

    private static void leave() {
        DEPTH.get()[0]--;
    }

    /** "bucket/key" of a staged path (relative to the run's stage folder). */
    private String relative(Path f) throws IOException {
        String local = pathToFile(f).getAbsolutePath();
        if (!local.equals(stage) && !local.startsWith(stage + File.separator)) {
            throw new IOException(f + " is outside the run's staged buckets (" + stage + ")");
        }
        return local.equals(stage) ? "" : local.substring(stage.length() + 1);
    }

    private String bucket(Path f) throws IOException {
        String rel = relative(f);
        int slash = rel.indexOf('/');
        return slash < 0 ? rel : rel.substring(0, slash);
    }

    private String key(Path f) throws IOException {
        String rel = relative(f);
        int slash = rel.indexOf('/');
        return slash < 0 ? "" : rel.substring(slash + 1);
    }

    private String dirPrefix(Path f) throws IOException {
        String k = key(f);
        return k.isEmpty() ? "" : k + "/";
    }

    private List<String> filesUnder(File dir) throws IOException {
        List<String> out = new ArrayList<>();
        File[] children = dir.listFiles();
        if (children == null) {
            return out;
        }
        for (File child : children) {
            if (child.isDirectory()) {
                out.addAll(filesUnder(child));
            } else {
                out.add(key(new Path(child.getAbsolutePath())));
            }
        }
        return out;
    }

    private void authorize(String operation, Path f, String action, String objectKey, String prefix)
            throws IOException {
        String bucket = bucket(f);
        String resource = "arn:aws:s3:::" + bucket + (objectKey == null ? "" : "/" + objectKey);
        String question = run + "\n" + session + "\n" + action + "\n" + resource + "\n" + (prefix == null ? "" : prefix);
        String denied = ANSWERS.get(question);
        if (denied == null) {
            denied = ask(action, resource, prefix);
            ANSWERS.put(question, denied);
        }
        if (!denied.isEmpty()) {
            String s3path = "s3://" + bucket + "/" + (objectKey == null ? (prefix == null ? "" : prefix) : objectKey);
            // the shape of S3A's translation of a 403
            throw new AccessDeniedException(s3path, null, operation + " on " + s3path + ": "
                    + "software.amazon.awssdk.services.s3.model.S3Exception: " + denied
                    + " (Service: S3, Status Code: 403):AccessDenied");
        }
    }

    /** "" when allowed, else the emulator's AccessDenied message. */
    private String ask(String action, String resource, String prefix) throws IOException {
        String body = "{\"session\": " + json(session) + ", \"action\": " + json(action) + ", \"resource\": "
                + json(resource) + (prefix == null ? "" : ", \"prefix\": " + json(prefix)) + "}";
        HttpRequest request = HttpRequest.newBuilder(URI.create(endpoint + "/_c360/iam/check"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        try {
            HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            String text = response.body();
            if (response.statusCode() != 200) {
                throw new IOException("the emulator's IAM check failed (" + response.statusCode() + "): " + text);
            }
            if (text.contains("\"allowed\": true")) {
                return "";
            }
            int start = text.indexOf("\"message\": \"");
            return start < 0 ? "Access Denied" : unjson(text.substring(start + 12, text.lastIndexOf('"')));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking the emulator's IAM check", e);
        }
    }

    private static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static String unjson(String s) {
        return s.replace("\\\"", "\"").replace("\\\\", "\\");
    }
}
