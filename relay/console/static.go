package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
)

// staticFile is an embedded file ready to serve: compressed once, on first
// request, and tagged with its hash.
type staticFile struct {
	once  sync.Once
	etag  string
	ctype string
	raw   []byte
	gz    []byte
	err   error
}

// staticHandler serves the embedded static files with an ETag (browsers
// revalidate, so an upgraded relay's files are picked up at once) and, to
// clients that accept it, gzip-compressed: CodeMirror is 400 KB as it is
// and 107 KB compressed. Its files are indexed once, so that requests for
// names it does not hold add nothing.
type staticHandler struct {
	fsys  fs.FS
	files map[string]*staticFile
}

func newStaticHandler(fsys fs.FS) (*staticHandler, error) {
	h := &staticHandler{fsys: fsys, files: map[string]*staticFile{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			h.files[name] = &staticFile{}
		}
		return err
	})
	return h, err
}

// file returns the file name, read and compressed on first use, or nil.
func (h *staticHandler) file(name string) *staticFile {
	f := h.files[name]
	if f == nil {
		return nil
	}
	f.once.Do(func() {
		f.raw, f.err = fs.ReadFile(h.fsys, name)
		if f.err != nil {
			return
		}
		sum := sha256.Sum256(f.raw)
		f.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
		f.ctype = mime.TypeByExtension(path.Ext(name))
		if f.ctype == "" {
			f.ctype = http.DetectContentType(f.raw)
		}
		if gz := gzipped(f.raw); len(gz) < len(f.raw) {
			f.gz = gz
		}
	})
	return f
}

// gzipped is b compressed with gzip -9.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func (h *staticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix+"static/")
	if name == "" || strings.HasSuffix(name, "/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	f := h.file(name)
	if f == nil || f.err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("ETag", f.etag)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Type", f.ctype)
	hd.Add("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.raw
	if f.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	w.Write(body)
}
