#include "common.h"
#include "builtin.h"

int cmd_serve(int argc, const char **argv)
{
	die("not yet");
}
