/* test_tcpstream.c - unit tests of tcpstream (placeholder until the module lands). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sipwatch/tcpstream.h"

static void test_header_compiles(void **state)
{
    (void)state;
    assert_true(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_compiles),
    };
    return cmocka_run_group_tests_name("tcpstream", tests, NULL, NULL);
}
