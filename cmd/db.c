#include "common.h"
#include "builtin.h"

int cmd_db(int argc, const char **argv)
{
	die("not yet");
}
