import time
def test_t(login_as, ref):
    c = login_as("admin")
    for url in ["/admin/allocation/", "/admin/allocation/new/", "/admin/compte/", "/admin/allocation/export/csv/", "/admin/audit_event/", "/admin/"]:
        t = time.time()
        for _ in range(5):
            r = c.get(url)
        print(url, r.status_code, (time.time()-t)/5)
