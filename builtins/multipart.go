package builtins

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// Limits of multipart.decode.
const (
	multipartMaxParts = 1000
	multipartMaxBytes = 32 << 20
)

// Multipart is the "multipart" module, for multipart/form-data bodies:
//
//	multipart.decode(body, content_type) → form, err
//	multipart.encode(form)               → body, content_type (or nil, err)
//
// A form is
//
//	{
//	  fields = {name = value, …},
//	  files  = {{field = …, filename = …, content_type = …, content = …}, …},
//	}
//
// decode reads the boundary from content_type (the request's Content-Type
// header, with its boundary parameter). A part with a filename parameter
// is a file, and so is a part with no name; any other part is a field. A
// field name that appears more than once maps to an array of its values in
// order. A file without a Content-Type header gets "text/plain" (RFC 7578
// §4.4); filename is given as sent. Quoted-printable parts are decoded. A
// body over 32 MiB or with over 1000 parts is refused.
//
// encode writes fields in name order (an array value repeats the field),
// then files in order; file content_type defaults to
// "application/octet-stream". form.boundary sets the boundary; without it
// the boundary is derived from the form's content, so the same form always
// encodes to the same bytes. It returns the body and the Content-Type
// header to send with it.
func Multipart() runtime.Module {
	return runtime.Module{Name: "multipart", Open: func(L *lua.LState) *lua.LTable {
		return newModule(L, map[string]lua.LGFunction{
			"decode": multipartDecode,
			"encode": multipartEncode,
		})
	}}
}

// multipartFile is one file part.
type multipartFile struct {
	field, filename, contentType, content string
}

func multipartDecode(L *lua.LState) int {
	const fn = "multipart.decode"
	body, err := codecArg(L, fn, 1, "body")
	if err != nil {
		return failErr(L, err)
	}
	ct, err := codecArg(L, fn, 2, "content_type")
	if err != nil {
		return failErr(L, err)
	}
	fields, files, err := multipartParse(body, ct)
	if err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	form := L.CreateTable(0, 2)
	form.RawSetString("fields", urlencodedTable(L, fields))
	list := L.CreateTable(len(files), 0)
	for i, f := range files {
		t := L.CreateTable(0, 4)
		t.RawSetString("field", lua.LString(f.field))
		t.RawSetString("filename", lua.LString(f.filename))
		t.RawSetString("content_type", lua.LString(f.contentType))
		t.RawSetString("content", lua.LString(f.content))
		list.RawSetInt(i+1, t)
	}
	form.RawSetString("files", list)
	L.Push(form)
	return 1
}

// multipartParse splits body into fields and files.
func multipartParse(body, contentType string) (map[string][]string, []multipartFile, error) {
	if contentType == "" {
		return nil, nil, errors.New("content type is empty: pass the request's Content-Type header, which carries the boundary")
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, nil, fmt.Errorf("content type %q: %v", contentType, err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return nil, nil, fmt.Errorf("content type %q is not multipart", mediaType)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, fmt.Errorf("content type %q has no boundary parameter", contentType)
	}
	if len(body) > multipartMaxBytes {
		return nil, nil, fmt.Errorf("body is %d bytes, more than the %d allowed", len(body), multipartMaxBytes)
	}
	r := multipart.NewReader(strings.NewReader(body), boundary)
	fields := map[string][]string{}
	var files []multipartFile
	for n := 0; ; n++ {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("part %d: %v", n+1, err)
		}
		if n == multipartMaxParts {
			return nil, nil, fmt.Errorf("more than %d parts", multipartMaxParts)
		}
		content, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, fmt.Errorf("part %d: %v", n+1, err)
		}
		_, disp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		name := disp["name"]
		filename, isFile := disp["filename"]
		if !isFile && name != "" {
			fields[name] = append(fields[name], string(content))
			continue
		}
		ctype := p.Header.Get("Content-Type")
		if ctype == "" {
			ctype = "text/plain"
		}
		files = append(files, multipartFile{field: name, filename: filename, contentType: ctype, content: string(content)})
	}
	return fields, files, nil
}

func multipartEncode(L *lua.LState) int {
	const fn = "multipart.encode"
	form, ok := L.Get(1).(*lua.LTable)
	if !ok {
		return fail(L, "%s: argument #1 (form) must be a table, got %s", fn, L.Get(1).Type())
	}
	body, ct, err := multipartBuild(form)
	if err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	L.Push(lua.LString(body))
	L.Push(lua.LString(ct))
	return 2
}

// multipartBuild writes form as a multipart/form-data body.
func multipartBuild(form *lua.LTable) (body []byte, contentType string, err error) {
	fields := map[string][]string{}
	switch v := form.RawGetString("fields").(type) {
	case *lua.LNilType:
	case *lua.LTable:
		if fields, err = urlencodedValues(v); err != nil {
			return nil, "", fmt.Errorf("fields: %v", err)
		}
	default:
		return nil, "", fmt.Errorf("fields must be a table, got %s", v.Type())
	}
	files, err := multipartFiles(form.RawGetString("files"))
	if err != nil {
		return nil, "", err
	}
	names := sortedKeys(fields)
	for _, name := range names {
		if err := multipartCheckHeader("field name", name); err != nil {
			return nil, "", err
		}
	}

	var boundary string
	switch b := form.RawGetString("boundary").(type) {
	case *lua.LNilType:
		boundary = multipartBoundary(names, fields, files)
	case lua.LString:
		boundary = string(b)
	default:
		return nil, "", fmt.Errorf("boundary must be a string, got %s", b.Type())
	}

	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(boundary); err != nil {
		return nil, "", fmt.Errorf("boundary %q: %v", boundary, err)
	}
	for _, name := range names {
		for _, v := range fields[name] {
			if strings.Contains(v, boundary) {
				return nil, "", fmt.Errorf("field %q contains the boundary", name)
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="`+multipartQuote(name)+`"`)
			pw, err := w.CreatePart(h)
			if err != nil {
				return nil, "", err
			}
			io.WriteString(pw, v)
		}
	}
	for i, f := range files {
		if strings.Contains(f.content, boundary) {
			return nil, "", fmt.Errorf("files[%d] contains the boundary", i+1)
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+multipartQuote(f.field)+`"; filename="`+multipartQuote(f.filename)+`"`)
		h.Set("Content-Type", f.contentType)
		pw, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		io.WriteString(pw, f.content)
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// multipartFiles reads form.files: an array of {field, filename,
// content_type, content}.
func multipartFiles(v lua.LValue) ([]multipartFile, error) {
	if v == lua.LNil {
		return nil, nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("files must be an array, got %s", v.Type())
	}
	n, ok := sequenceLen(t)
	if !ok {
		return nil, errors.New("files must be an array of tables")
	}
	files := make([]multipartFile, 0, n)
	for i := 1; i <= n; i++ {
		ft, ok := t.RawGetInt(i).(*lua.LTable)
		if !ok {
			return nil, fmt.Errorf("files[%d] is a %s, not a table", i, t.RawGetInt(i).Type())
		}
		var f multipartFile
		for _, e := range []struct {
			key, def string
			dst      *string
		}{
			{"field", "", &f.field},
			{"filename", "", &f.filename},
			{"content_type", "application/octet-stream", &f.contentType},
			{"content", "", &f.content},
		} {
			switch x := ft.RawGetString(e.key).(type) {
			case *lua.LNilType:
				*e.dst = e.def
			case lua.LString, lua.LNumber:
				*e.dst = x.String()
			default:
				return nil, fmt.Errorf("files[%d].%s is a %s, not a string", i, e.key, x.Type())
			}
		}
		if f.field == "" {
			return nil, fmt.Errorf("files[%d].field is missing", i)
		}
		for _, h := range []struct{ what, v string }{{"field", f.field}, {"filename", f.filename}, {"content_type", f.contentType}} {
			if err := multipartCheckHeader(fmt.Sprintf("files[%d].%s", i, h.what), h.v); err != nil {
				return nil, err
			}
		}
		files = append(files, f)
	}
	return files, nil
}

// multipartCheckHeader refuses line breaks in what goes into a part header.
func multipartCheckHeader(what, v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%s %q contains a line break", what, v)
	}
	return nil
}

// multipartQuote escapes a quoted-string parameter value as mime/multipart
// does for CreateFormFile.
func multipartQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// multipartBoundary derives a boundary from the form's content, so that
// encoding is deterministic; a content that contains its own hash is not a
// practical concern, and encode checks anyway.
func multipartBoundary(names []string, fields map[string][]string, files []multipartFile) string {
	h := sha256.New()
	put := func(s string) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	for _, name := range names {
		for _, v := range fields[name] {
			put(name)
			put(v)
		}
	}
	for _, f := range files {
		put(f.field)
		put(f.filename)
		put(f.contentType)
		put(f.content)
	}
	return "relayfn-" + hex.EncodeToString(h.Sum(nil)[:24])
}
